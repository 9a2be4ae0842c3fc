import { spawn, type ChildProcess } from 'node:child_process';

/** Workers dying this many times in a row (no clean exit between) means the host's setup is broken. */
const CRASH_LIMIT = 8;

export interface FleetChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The child's `--json` document, when it printed one. */
  report: unknown;
  stderr: string;
}

/**
 * `archivist worker --workers N` with N > 1: N worker processes of this host, each the same command with
 * `--workers 1` (a decoder that crashes kills one of them, not the host's whole share of the run). A child
 * killed by a signal or a crash is replaced; its item comes back to the run when its lease expires, with
 * the attempt counted, as for any worker that vanished. SIGINT and SIGTERM are passed on.
 */
export async function runWorkerFleet(
  argv: readonly string[],
  count: number,
  env: NodeJS.ProcessEnv,
  stop: AbortSignal,
): Promise<FleetChildResult[]> {
  const results: FleetChildResult[] = [];
  const alive = new Set<ChildProcess>();
  let crashesInARow = 0;
  const forward = () => {
    for (const child of alive) child.kill('SIGTERM');
  };
  stop.addEventListener('abort', forward);
  await new Promise<void>((resolve) => {
    const start = () => {
      const child = spawn(process.execPath, [...process.execArgv, ...argv], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      alive.add(child);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        process.stderr.write(chunk);
      });
      child.on('close', (code, signal) => {
        alive.delete(child);
        const crashed = signal !== null && !stop.aborted;
        crashesInARow = crashed ? crashesInARow + 1 : 0;
        if (crashed && crashesInARow < CRASH_LIMIT) start();
        else results.push({ code, signal, report: parseReport(stdout), stderr: stderr.slice(-4000) });
        if (alive.size === 0) resolve();
      });
    };
    for (let i = 0; i < count; i++) start();
  });
  stop.removeEventListener('abort', forward);
  return results;
}

function parseReport(stdout: string): unknown {
  try {
    return JSON.parse(stdout) as unknown;
  } catch {
    return stdout.trim() || null;
  }
}
