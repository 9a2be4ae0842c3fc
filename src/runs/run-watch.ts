import type { Db } from '../store/database.js';
import { getRun, transitionRun } from '../store/runs-repository.js';
import type { RunStatus } from '../store/schema.js';
import type { WakeUps } from '../store/wake-ups.js';
import { releaseItems } from '../store/work-items-repository.js';
import { COORDINATOR_STALE_MS } from './detect-interrupted.js';
import type { RunLog } from './run-log.js';

/** How often a worker on another host looks at its run: cancel, pause and a lost coordinator reach it within this. */
const WATCH_MS = 1_000;

export type WatchVerdict = { status: RunStatus; reason: string };

/**
 * What tells a worker on another host that its run stopped: a local worker hears it from its
 * coordinator over IPC, a remote one has only the database. It reads the run's status every second and
 * at once on a wake-up hint for the run; `onStop` fires once, when the run is no longer `running`, or
 * when its coordinator's heartbeat has not moved for COORDINATOR_STALE_MS (the coordinator died: the run
 * is recorded as `interrupted`, as any command would; what was committed stays). The heartbeat is
 * judged by this host's own clock watching the value change, never by comparing two hosts' clocks.
 */
export function watchRun(
  db: Db,
  runId: string,
  options: { wakeUps: WakeUps; log: RunLog; worker: string; onStop: (verdict: WatchVerdict) => void },
): () => void {
  let lastBeat: number | null | undefined;
  let lastBeatSeenAt = performance.now();
  let stopped = false;
  let checking = false;
  const check = async () => {
    if (stopped || checking) return;
    checking = true;
    try {
      const run = await getRun(db, runId);
      if (run.status !== 'running')
        return stop({ status: run.status, reason: run.status_reason ?? run.status });
      if (run.heartbeat_at !== lastBeat) {
        lastBeat = run.heartbeat_at;
        lastBeatSeenAt = performance.now();
      } else if (performance.now() - lastBeatSeenAt > COORDINATOR_STALE_MS) {
        const reason = `coordinator silent for ${COORDINATOR_STALE_MS / 1000} s (noticed by worker ${options.worker})`;
        if (await transitionRun(db, runId, ['running'], 'interrupted', { status_reason: reason }))
          await releaseItems(db, { runId });
        stop({ status: 'interrupted', reason });
      }
    } catch (error) {
      // The database is away (restarting, link down): the claim loop retries; here, the next tick. The
      // coordinator could not beat meanwhile either: its silence is counted again from the next read.
      lastBeat = undefined;
      options.log.warn({ event: 'run-watch-failed', error: String(error) }, 'cannot read the run now');
    } finally {
      checking = false;
    }
  };
  const stop = (verdict: WatchVerdict) => {
    if (stopped) return;
    stopped = true;
    options.onStop(verdict);
  };
  const timer = setInterval(() => void check(), WATCH_MS);
  const unsubscribe = options.wakeUps.subscribe((hint) => {
    if (hint.kind === 'run' && hint.runId === runId) void check();
  });
  return () => {
    stopped = true;
    clearInterval(timer);
    unsubscribe();
  };
}
