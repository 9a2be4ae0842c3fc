import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, it } from 'vitest';
import { findPostgresBinaries } from '../../scripts/pg-cluster.mjs';

/**
 * A test run or bench killed before its teardown must not leave a PostgreSQL server running or hundreds of
 * megabytes in the temp folder: the watchdogs of scripts/pg-cluster.mjs and test/global-setup.ts clean up
 * after an owner that died by SIGKILL. Each case starts the owner as a real child process and kills it.
 */

const repo = path.resolve(import.meta.dirname, '../..');

/** Runs `code` in a child node process, waits for its first stdout line, then SIGKILLs it. */
async function killedOwner(code: string): Promise<string> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  for await (const chunk of child.stdout) {
    out += String(chunk);
    if (out.includes('\n')) break;
  }
  child.kill('SIGKILL');
  return out.trim();
}

/** Polls until `gone()` holds; the bound is generous because it only has to end, never to be fast. */
async function eventually(gone: () => boolean | Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 120; i++) {
    if (await gone()) return true;
    await sleep(500);
  }
  return false;
}

function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

const postgres = findPostgresBinaries();

it.skipIf(!postgres.dir)('a cluster whose owner was killed is stopped and deleted', async () => {
  const line = await killedOwner(
    `import { startCluster } from './scripts/pg-cluster.mjs';
     const c = await startCluster();
     process.stdout.write(JSON.stringify({ dir: c.dir, port: c.port }) + '\\n');
     setInterval(() => {}, 1000);`,
  );
  const { dir, port } = JSON.parse(line) as { dir: string; port: number };
  expect(fs.existsSync(dir)).toBe(true);
  expect(await eventually(() => !fs.existsSync(dir))).toBe(true);
  expect(await eventually(() => refusesConnections(port))).toBe(true);
});

it("a killed test run's folders are removed (test/global-setup.ts)", async () => {
  const line = await killedOwner(
    `import fs from 'node:fs';
     import os from 'node:os';
     import path from 'node:path';
     import { removeWhenGone } from './scripts/remove-when-gone.mjs';
     const dirs = [1, 2].map(() => fs.mkdtempSync(path.join(os.tmpdir(), 'archivist-test-run-')));
     fs.writeFileSync(path.join(dirs[0], 'media.bin'), 'x');
     removeWhenGone(process.pid, dirs);
     process.stdout.write(JSON.stringify(dirs) + '\\n');
     setInterval(() => {}, 1000);`,
  );
  const dirs = JSON.parse(line) as string[];
  expect(dirs.every((d) => fs.existsSync(d))).toBe(true);
  expect(await eventually(() => dirs.every((d) => !fs.existsSync(d)))).toBe(true);
});
