import os from 'node:os';
import type { Db } from '../store/database.js';
import { runsInProgress } from '../store/run-coordinators-repository.js';
import { transitionRun } from '../store/runs-repository.js';
import { releaseItems } from '../store/work-items-repository.js';
import { processState } from './process-state.js';

/** A coordinator beats every second; this much silence means it is gone. */
export const COORDINATOR_STALE_MS = 10_000;

/** Whether a process of this pid runs on this host (a zombie, killed but not yet reaped, does not). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A killed process stays a zombie until its parent reaps it, and kill(pid, 0) still succeeds on it.
  // No /proc (macOS): trust kill(0).
  return processState(pid) !== 'Z';
}

/**
 * Any command calls this on start: a run whose coordinator is gone (its process is dead on this host, or
 * its heartbeat stopped) becomes `interrupted`, and the items it had in flight go back to pending without
 * counting the attempt. `run resume` continues it.
 */
export async function detectInterruptedRuns(db: Db, now: number = Date.now()): Promise<string[]> {
  const candidates = await runsInProgress(db);
  const interrupted: string[] = [];
  for (const run of candidates) {
    const local = run.coordinator_host === os.hostname() && run.coordinator_pid !== null;
    const dead = local && run.coordinator_pid !== process.pid && !processAlive(run.coordinator_pid!);
    const queued = run.status === 'queued';
    // A queued run has no heartbeat of its own yet: only its launched coordinator's death ends it (a
    // coordinator slow to start on a loaded machine is not silent).
    const stale = !queued && (run.heartbeat_at === null || now - run.heartbeat_at > COORDINATOR_STALE_MS);
    if (!dead && !stale) continue;
    const why = queued
      ? `coordinator (pid ${run.coordinator_pid}) exited before it took the run`
      : dead
        ? `coordinator (pid ${run.coordinator_pid}) is gone`
        : `coordinator silent since ${run.heartbeat_at ? new Date(run.heartbeat_at).toISOString() : 'start'}`;
    // A cancel that lost its coordinator is finished by recording it as cancelled.
    const to = run.status === 'cancelling' ? 'cancelled' : 'interrupted';
    if (await transitionRun(db, run.id, [run.status], to, { status_reason: why })) {
      await releaseItems(db, { runId: run.id });
      interrupted.push(run.id);
    }
  }
  return interrupted;
}
