import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import type { Home } from '../home/home.js';
import type { HomeLayout } from '../home/home-path.js';
import { noteCoordinatorLaunched } from '../store/run-coordinators-repository.js';

const CLI_MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');

/**
 * Starts a background coordinator for a run (`run start --detach`, and every run the HTTP API starts)
 * and records its pid on the run, still `queued`: a coordinator that dies before it takes the run
 * leaves it `interrupted` (detect-interrupted.ts), not queued for ever.
 */
export async function launchCoordinator(
  home: Home,
  runId: string,
  workers: number,
): Promise<{ pid: number | undefined; log: string }> {
  const launched = spawnCoordinator(home.layout, runId, workers);
  if (launched.pid !== undefined)
    await noteCoordinatorLaunched(home.db, runId, { pid: launched.pid, host: os.hostname() });
  return launched;
}

/**
 * The coordinator's process: its own process group, so closing the terminal or stopping the server does
 * not take the run down.
 */
function spawnCoordinator(
  layout: HomeLayout,
  runId: string,
  workers: number,
): { pid: number | undefined; log: string } {
  const log = path.join(layout.logs, `coordinator-${runId}.log`);
  const out = fs.openSync(log, 'a');
  try {
    const child = spawn(
      process.execPath,
      [CLI_MAIN, '--home', layout.root, 'run', 'coordinate', runId, '--workers', String(workers)],
      {
        detached: true,
        stdio: ['ignore', out, out],
        env: process.env,
      },
    );
    child.unref();
    return { pid: child.pid, log };
  } finally {
    fs.closeSync(out);
  }
}
