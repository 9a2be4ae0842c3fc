import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, REPO_ROOT, runCli, runCliJson, tempDir } from '../helpers/cli.js';
import { put } from '../helpers/media.js';
import { dialectTitle, newPostgresDatabase, POSTGRES } from '../helpers/postgres.js';

/**
 * `archivist serve` beyond loopback (issue 14, item 3): a private archive is never served to a network
 * without an access token, and with one every request must carry it.
 */

let dir: string;
let cleanup: () => void;
let home: string;
beforeAll(async () => {
  ({ dir, cleanup } = tempDir('archivist-serve-'));
  home = path.join(dir, 'home');
  await runCliJson(['init'], { home });
});
afterAll(() => cleanup?.());

const TOKEN = 'c0ffee'.repeat(8);

/** `archivist serve --json` on `home`, until it prints where it listens. */
async function startServe(
  home: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ child: ChildProcess; started: { port: number; tokenRequired: boolean } }> {
  const child = spawn(process.execPath, [CLI, '--home', home, 'serve', ...args, '--json'], {
    cwd: REPO_ROOT,
    env: { ...process.env, ARCHIVIST_HOME: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const started = await new Promise<{ port: number; tokenRequired: boolean }>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      try {
        resolve(JSON.parse(out) as { port: number; tokenRequired: boolean });
      } catch {
        // not the whole document yet
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
  });
  return { child, started };
}

async function stopServe(child: ChildProcess): Promise<void> {
  child.kill('SIGTERM');
  if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
}

describe('archivist serve', () => {
  it('refuses to listen beyond loopback without an access token', async () => {
    const result = await runCli(['serve', '--host', '0.0.0.0', '--port', '0'], { home });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/beyond loopback needs an access token/);
    expect(result.stderr).toMatch(/server.*accessToken/);
  });

  it('refuses a token too short to be one, naming the key', async () => {
    const config = path.join(home, 'config.json');
    const original = fs.readFileSync(config, 'utf8');
    try {
      const parsed = JSON.parse(original) as Record<string, unknown>;
      fs.writeFileSync(config, JSON.stringify({ ...parsed, server: { accessToken: 'secret' } }));
      const result = await runCli(['serve', '--host', '0.0.0.0', '--port', '0'], { home });
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/server\.accessToken: at least 32 characters/);
    } finally {
      fs.writeFileSync(config, original);
    }
  });

  it('serves beyond loopback with a token, and requires it on every request', async () => {
    const { child, started } = await startServe(home, ['--host', '0.0.0.0', '--port', '0'], {
      ARCHIVIST_ACCESS_TOKEN: TOKEN,
    });
    try {
      expect(started.tokenRequired).toBe(true);
      const status = `http://127.0.0.1:${started.port}/api/status`;
      expect((await fetch(status)).status).toBe(401);
      expect((await fetch(status, { headers: { authorization: `Bearer ${TOKEN}x` } })).status).toBe(401);
      const ok = await fetch(status, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ assets: 0 });
    } finally {
      await stopServe(child);
    }
  });
});

// The API's routes run on both dialects in-process (test/api); this is the command itself opening a
// PostgreSQL home and answering from that database.
describe.skipIf(POSTGRES.skipReason !== '')(`archivist serve ${dialectTitle(POSTGRES)}`, () => {
  it('serves a home whose database is PostgreSQL', async () => {
    const pgHome = path.join(dir, 'home-postgres');
    const archive = path.join(dir, 'archive');
    put(archive, 'a.txt', 'one file');
    await runCliJson(['init', '--database', await newPostgresDatabase()], { home: pgHome });
    await runCliJson(['source', 'add', 'a', archive], { home: pgHome });
    await runCliJson(['catalog'], { home: pgHome });
    const { child, started } = await startServe(pgHome, ['--port', '0']);
    try {
      const ok = await fetch(`http://127.0.0.1:${started.port}/api/status`);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ assets: 1 });
    } finally {
      await stopServe(child);
    }
  });
});
