import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HomeLayout } from '../home/home-path.js';

const CLI_MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');

/**
 * Starts a background coordinator for a run (`run start --detach`, and every run the HTTP API starts):
 * its own process group, so closing the terminal or stopping the server does not take the run down.
 */
export function spawnCoordinator(
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
