import os from 'node:os';
import { ArchivistError } from '../errors.js';
import type { Home } from '../home/home.js';
import { findPipeline } from '../pipeline/registry.js';
import { runsInProgress } from '../store/run-coordinators-repository.js';
import { findRun, getRun } from '../store/runs-repository.js';
import type { RunRow } from '../store/schema.js';
import type { WakeUps } from '../store/wake-ups.js';
import { CANCEL_GRACE_MS } from './run-stopping.js';
import { openRunLog } from './run-log.js';
import { watchRun } from './run-watch.js';
import { removeStaleScratchDirs } from './scratch-dirs.js';
import type { SourceRoots } from './source-mapping.js';
import { runWorkerLoop, type WorkerExit } from './worker.js';

export interface StandaloneOptions {
  home: Home;
  /** `--run R`: this run only (waits while it is queued); otherwise every running run (`--all`). */
  runRef?: string;
  sourceRoots?: SourceRoots;
  /** How long an idle worker waits between looks when no wake-up hint comes (LISTEN/NOTIFY). */
  pollMs: number;
  /** SIGINT/SIGTERM: stop claiming, abort the step in hand, give back what is held. */
  stop: AbortSignal;
}

export interface RunWorked {
  run: string;
  stopped: WorkerExit;
  reason?: string;
}

/** Items remain but none can start yet (a backoff, an earlier step): look again this soon at the latest. */
const WAIT_POLL_MS = 500;

/**
 * A worker process on a host of its own (`archivist worker`): joins running runs and claims their items
 * from the database as the coordinator's own workers do, fenced the same way. With `--run` it works on
 * that run until it stops; otherwise it works on whatever runs are running, and waits for the next one
 * until it is stopped. The run's coordinator stays on its host; this process follows the run's status
 * through the database (run-watch.ts).
 */
export async function workStandalone(options: StandaloneOptions): Promise<RunWorked[]> {
  const { home } = options;
  const worked: RunWorked[] = [];
  const wakeUps = home.database.listenForWakeUps();
  try {
    if (options.runRef !== undefined) {
      const run = await waitUntilStarted(options, wakeUps, await findRun(home.db, options.runRef));
      if (run) worked.push(await workOnRun(options, wakeUps, run));
      return worked;
    }
    // Runs this worker found nothing left in: they stay `running` until their coordinator completes
    // them (its next tick), and looking at them again meanwhile would only spin.
    const finished = new Set<string>();
    while (!options.stop.aborted) {
      const running = (await runsInProgress(home.db)).filter(
        (r) => r.status === 'running' && !finished.has(r.id),
      );
      let any = false;
      for (const candidate of running) {
        if (options.stop.aborted) break;
        const run = await getRun(home.db, candidate.id);
        if (!knowsPipeline(run)) continue;
        const result = await workOnRun(options, wakeUps, run);
        if (result.stopped === 'finished') finished.add(run.id);
        worked.push(result);
        any = true;
      }
      // Nothing to do: wait for a run to start or for items to be given back, or for the poll.
      if (!any) await wakeUps.wait(options.pollMs, options.stop);
    }
    return worked;
  } finally {
    await wakeUps.close();
  }
}

/** A run still `queued` (its coordinator is starting) is waited for; one that ended is refused. */
async function waitUntilStarted(options: StandaloneOptions, wakeUps: WakeUps, first: RunRow) {
  let run = first;
  while (run.status === 'queued' && !options.stop.aborted) {
    await wakeUps.wait(options.pollMs, options.stop, (h) => h.kind === 'run' && h.runId === run.id);
    run = await getRun(options.home.db, run.id);
  }
  if (options.stop.aborted) return undefined;
  if (run.status !== 'running') {
    throw new ArchivistError('usage', `run ${run.id} is ${run.status}; a worker joins a running run`, {
      field: 'run',
      hint: 'Start or resume it on the coordinator host (`archivist run resume`), then start the worker.',
    });
  }
  return run;
}

function knowsPipeline(run: RunRow): boolean {
  try {
    findPipeline(`${run.pipeline_name}@${run.pipeline_version}`);
    return true;
  } catch {
    return false; // an extra pipeline this host has not loaded ($ARCHIVIST_PIPELINE_MODULES): not ours
  }
}

async function workOnRun(options: StandaloneOptions, wakeUps: WakeUps, run: RunRow): Promise<RunWorked> {
  const { home } = options;
  const workerId = `${os.hostname()}:${process.pid}`;
  const log = openRunLog(home.layout, run.id, 'remote-worker');
  // Scratch folders of this host's workers that were killed (pids are this host's: `.tmp/<host>`).
  removeStaleScratchDirs(home.layout);
  const stop = new AbortController();
  const abortWork = new AbortController();
  let reason: string | undefined;
  const stopNow = () => {
    stop.abort();
    abortWork.abort();
  };
  options.stop.addEventListener('abort', stopNow);
  // Cancel and pause: no more claims, and the step in hand gets the same grace as on the coordinator's host.
  const unwatch = watchRun(home.db, run.id, {
    wakeUps,
    log,
    worker: workerId,
    onStop: (verdict) => {
      reason = `run ${verdict.status}: ${verdict.reason}`;
      log.info({ event: 'run-stopped', ...verdict }, reason);
      stop.abort();
      setTimeout(() => abortWork.abort(), CANCEL_GRACE_MS).unref();
    },
  });
  const waitPoll = Math.min(WAIT_POLL_MS, options.pollMs);
  try {
    log.info({
      event: 'worker-start',
      worker: workerId,
      roots: Object.fromEntries(options.sourceRoots ?? []),
    });
    const stopped = await runWorkerLoop({
      home,
      run,
      pipeline: findPipeline(`${run.pipeline_name}@${run.pipeline_version}`),
      workerId,
      stop: stop.signal,
      abortWork: abortWork.signal,
      send: () => undefined,
      log,
      sourceRoots: options.sourceRoots,
      idleWait: async (signal) => {
        await wakeUps.wait(waitPoll, signal, (h) => h.runId === run.id);
      },
    });
    log.info({ event: 'worker-exit', why: stopped }, `worker ${stopped}`);
    return { run: run.id, stopped, ...(reason ? { reason } : {}) };
  } finally {
    unwatch();
    options.stop.removeEventListener('abort', stopNow);
    log.flush();
  }
}
