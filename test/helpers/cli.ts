import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The built CLI, as a user runs it. `npm test` builds before running the tests. */
export const CLI = path.join(REPO_ROOT, 'dist', 'cli', 'main.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  home?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Run as another user (root sees through permissions, so permission tests drop to `nobody`). */
  uid?: number;
  gid?: number;
}

/**
 * Whether another user (`nobody`, for the permission tests run as root) can start the built CLI from
 * this clone: every folder from / down to it must be searchable by others. A clone under a private folder
 * (/root, a 0700 temp folder) is not, and those tests are skipped there with this reason.
 */
export function othersCanRunCli(): boolean {
  for (let dir = REPO_ROOT; ; dir = path.dirname(dir)) {
    if ((fs.statSync(dir).mode & 0o001) === 0) return false;
    if (path.dirname(dir) === dir) return true;
  }
}

/** Runs the built `archivist` in a child process, with no stdin, and collects its output. */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  const fullArgs = options.home ? ['--home', options.home, ...args] : [...args];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...fullArgs], {
      cwd: options.cwd ?? REPO_ROOT,
      env: { ...process.env, ARCHIVIST_HOME: '', CI: 'true', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      uid: options.uid,
      gid: options.gid,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Runs the CLI with --json and parses stdout; fails loudly with stderr when it cannot. */
export async function runCliJson<T = unknown>(args: readonly string[], options: CliOptions = {}): Promise<T> {
  const result = await runCli([...args, '--json'], options);
  if (result.code !== 0) {
    throw new Error(`archivist ${args.join(' ')} exited ${result.code}\n${result.stderr}\n${result.stdout}`);
  }
  return JSON.parse(result.stdout) as T;
}

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = 'archivist-test-'): { dir: string; cleanup: () => void } {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
