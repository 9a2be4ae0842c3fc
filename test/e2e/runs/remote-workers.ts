import { spawn } from 'node:child_process';
import { CLI, type CliResult } from '../../helpers/cli.js';

/** A worker process started as on a host of its own: `archivist worker ... --json`, no home. */
export interface RemoteWorker {
  pid: number;
  /** Resolves when it exits, with what it printed. */
  exited: Promise<CliResult>;
  /** Its JSON report, once it exited 0. */
  report(): Promise<WorkerReport>;
}

export interface WorkerReport {
  worker: string;
  host: string;
  checks: { source: string; root: string; checked: number }[];
  runs: { run: string; stopped: string; reason?: string }[];
}

/**
 * Starts `archivist worker <args> --json`; `prefix` runs it inside something (`ip netns exec ns unshare
 * ...` for a host of the network-namespace drill). No stdin, no home: ARCHIVIST_HOME is emptied.
 */
export function startRemoteWorker(
  args: readonly string[],
  options: { env: NodeJS.ProcessEnv; prefix?: readonly string[] },
): RemoteWorker {
  return startArchivist(['worker', ...args, '--json'], options);
}

/** Any `archivist` command as a child process, optionally run through `prefix`. */
export function startArchivist(
  args: readonly string[],
  options: { env: NodeJS.ProcessEnv; prefix?: readonly string[] },
): RemoteWorker {
  const prefix = options.prefix ?? [];
  const command = [...prefix, process.execPath, CLI, ...args];
  const child = spawn(command[0]!, command.slice(1), {
    env: { ...process.env, ARCHIVIST_HOME: '', CI: 'true', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return {
    pid: child.pid!,
    exited,
    async report() {
      const result = await exited;
      if (result.code !== 0)
        throw new Error(`worker exited ${result.code}: ${result.stderr}\n${result.stdout}`);
      return JSON.parse(result.stdout) as WorkerReport;
    },
  };
}
