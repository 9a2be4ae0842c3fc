import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArchivistError } from '../errors.js';
import type { Home } from '../home/home.js';
import { findPipeline } from '../pipeline/registry.js';
import type { RunStatus } from '../store/schema.js';
import { getRun, runCoverage, transitionRun, type StepCounts } from '../store/runs-repository.js';
import { failWorkItem, releaseWorkItems, skipOrphanedDependents } from './finish-work-item.js';
import { computeRunStats } from './run-stats.js';
import { openRunLog } from './run-log.js';
import { removeScratchDir, removeStaleScratchDirs, scratchDirOf } from './scratch-dirs.js';
import { needsOf } from './worker.js';
import type { CoordinatorMessage, WorkerMessage } from './worker-messages.js';

const WORKER_ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'worker-process.js');
const TICK_MS = 500;
/** In-flight steps get this long to finish after a cancel before they are aborted. */
const CANCEL_GRACE_MS = 2_000;
/** After the grace, a worker that still has not exited is killed. */
const KILL_AFTER_MS = CANCEL_GRACE_MS + 5_000;
/** Workers dying this many times in a row without finishing an item means something is wrong with the setup. */
const CRASH_LOOP_LIMIT = 8;

interface WorkerState {
  child: ChildProcess;
  id: string;
  current: { itemId: number; at: number } | null;
  stderr: string[];
  exited: boolean;
  killedForTimeout: boolean;
}

export interface RunSnapshot {
  status: RunStatus;
  total: StepCounts;
  steps: Record<string, StepCounts>;
}

export interface CoordinateOptions {
  workers: number;
  onTick?: (snapshot: RunSnapshot) => void;
}

/**
 * Owns a run until it stops: takes it over (status `running`, our pid, a heartbeat every tick), keeps N
 * worker processes alive, fails the item of a worker that died (`worker-crashed`, with the signal) or
 * overran its timeout, and turns `cancelling` into `cancelled` and a disk pause into `paused`. Returns
 * the status the run ended in.
 */
export async function coordinateRun(
  home: Home,
  runId: string,
  options: CoordinateOptions,
): Promise<RunStatus> {
  const db = home.db;
  const taken = await db
    .updateTable('runs')
    .set((eb) => ({
      status: 'running',
      status_reason: null,
      coordinator_pid: process.pid,
      coordinator_host: os.hostname(),
      heartbeat_at: Date.now(),
      workers: options.workers,
      started_at: eb.fn.coalesce('started_at', eb.val(new Date().toISOString())),
    }))
    .where('id', '=', runId)
    // Only a run waiting for a coordinator: a start or resume leaves it `queued`, and a cancel that came
    // first (the coordinator may take seconds to start) turned that into `cancelled`, which must hold.
    .where('status', '=', 'queued')
    .executeTakeFirst();
  if (Number(taken.numUpdatedRows) === 0) {
    const run = await getRun(db, runId);
    throw new ArchivistError('usage', `run ${runId} is ${run.status}: it cannot be started or resumed now`);
  }
  const run = await getRun(db, runId);
  const pipeline = findPipeline(`${run.pipeline_name}@${run.pipeline_version}`);
  const needs = needsOf(pipeline);
  const log = openRunLog(home.layout, runId, 'coordinator');
  // Workers killed in an earlier session (of this run or another) left their scratch folders behind.
  const staleRemoved = removeStaleScratchDirs(home.layout);
  log.info(
    { event: 'coordinator-start', workers: options.workers, status: run.status, staleRemoved },
    'coordinator took the run',
  );

  const workers = new Set<WorkerState>();
  let stopping = null as { since: number } | null;
  let cpuMs = 0;
  let peakRss = 0;
  let crashes = 0;
  let crashesInARow = 0;

  let wake: () => void = () => undefined;

  const spawnWorker = () => {
    // Share the cores between workers instead of letting each libvips use all of them.
    const threads = String(Math.max(1, Math.floor(os.cpus().length / options.workers)));
    const child = fork(WORKER_ENTRY, [home.layout.root, runId, String(process.pid)], {
      // Each worker leads a process group of its own, with the tools it starts (exiftool, ffmpeg): a
      // Ctrl-C in the terminal reaches the coordinator only (which cancels, with a grace period) instead of
      // killing tools mid-file, and a worker that dies is cleaned up with everything it started.
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: {
        ...process.env,
        VIPS_CONCURRENCY: threads,
        UV_THREADPOOL_SIZE: String(Math.max(4, Number(threads))),
      },
    });
    const state: WorkerState = {
      child,
      id: `${os.hostname()}:${child.pid}`,
      current: null,
      stderr: [],
      exited: false,
      killedForTimeout: false,
    };
    child.stderr?.on('data', (chunk: Buffer) => {
      state.stderr.push(...chunk.toString().split('\n').filter(Boolean));
      if (state.stderr.length > 40) state.stderr.splice(0, state.stderr.length - 40);
    });
    child.on('message', (message: WorkerMessage) => {
      switch (message.type) {
        case 'claimed':
          state.current = { itemId: message.itemId, at: Date.now() };
          break;
        case 'finished':
          state.current = null;
          crashesInARow = 0;
          break;
        case 'exiting':
          cpuMs += message.cpuMs;
          peakRss = Math.max(peakRss, message.maxRssBytes);
          break;
        case 'ready':
          break;
      }
    });
    child.on('exit', (code, signal) => void onExit(state, code, signal).finally(wake));
    // A send to a worker whose channel just closed fails with an 'error' event; unhandled, it would take
    // the coordinator down. The worker's exit is what matters, and 'exit' reports it.
    child.on('error', (error) =>
      log.warn({ event: 'worker-channel-error', worker: state.id, error: error.message }),
    );
    workers.add(state);
  };

  const onExit = async (state: WorkerState, code: number | null, signal: NodeJS.Signals | null) => {
    state.exited = true;
    // A worker killed (SIGKILL, a crash, our timeout) cannot end its tools; exiftool in -stay_open mode
    // would wait on its closed stdin forever. Its process group goes with it.
    killGroup(state.child.pid);
    // A worker that was killed could not remove its scratch folder; one that exited has already.
    if (state.child.pid !== undefined) removeScratchDir(scratchDirOf(home.layout, state.child.pid));
    workers.delete(state);
    const item = state.current;
    // Stopping (cancel or pause): a worker killed after the grace period did nothing wrong; its item is
    // released with the others when the run stops.
    if (stopping) return;
    if (item && (code !== 0 || signal)) {
      crashes++;
      crashesInARow++;
      const attempts = await db
        .selectFrom('work_items')
        .select('attempts')
        .where('id', '=', item.itemId)
        .executeTakeFirst();
      log.warn(
        {
          event: 'worker-died',
          worker: state.id,
          itemId: item.itemId,
          code,
          signal,
          timeout: state.killedForTimeout,
          stderrTail: state.stderr.slice(-20),
        },
        `worker ${state.id} died on item ${item.itemId}`,
      );
      const how = state.killedForTimeout ? 'timeout' : `worker crashed (${signal ?? `exit code ${code}`})`;
      const result = await failWorkItem(db, item.itemId, null, {
        reason: state.killedForTimeout ? 'timeout' : 'worker-crashed',
        message:
          (attempts?.attempts ?? 0) >= run.max_attempts
            ? `${how} ${attempts?.attempts ?? '?'} times`
            : `${how} on attempt ${attempts?.attempts ?? '?'} of ${run.max_attempts}`,
        stderrTail: state.stderr.slice(-20).join('\n') || null,
        retryable: true,
        durationMs: Date.now() - item.at,
      });
      if (result === 'failed') await skipOrphanedDependents(db, runId, needs);
    }
    if (code === 0 && !signal) return;
    if (!item) {
      crashes++;
      crashesInARow++;
    }
    // Items the dead worker had claimed ahead but not started did nothing wrong: back to pending.
    await releaseWorkItems(db, { runId, owner: state.id });
    if (crashesInARow >= CRASH_LOOP_LIMIT) {
      await transitionRun(db, runId, ['running'], 'paused', {
        status_reason: `workers crashed ${crashesInARow} times in a row: ${state.stderr.at(-1) ?? 'no message'}`,
      });
    } else {
      spawnWorker(); // replace the dead worker; the run goes on
    }
  };

  const stopWorkers = () => {
    stopping = { since: Date.now() };
    for (const state of workers) {
      // A worker that already closed its channel (it saw the pause itself) is on its way out.
      if (state.child.connected)
        state.child.send({ type: 'stop', graceMs: CANCEL_GRACE_MS } satisfies CoordinatorMessage);
    }
  };

  const onSignal = () => {
    // Ctrl-C in a foreground run is a cancel: committed work stays, the run can be resumed.
    void transitionRun(db, runId, ['running'], 'cancelling');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  for (let i = 0; i < options.workers; i++) spawnWorker();

  let final: RunStatus;
  try {
    for (;;) {
      // A tick, or sooner when a worker exits: the end of a run is noticed at once, not on the next tick.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, TICK_MS);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = () => undefined;
      await db.updateTable('runs').set({ heartbeat_at: Date.now() }).where('id', '=', runId).execute();
      const { status } = await db
        .selectFrom('runs')
        .select('status')
        .where('id', '=', runId)
        .executeTakeFirstOrThrow();
      // Counting a run's items by status reads all of them: only for a terminal showing progress.
      if (options.onTick) options.onTick({ status, ...(await runCoverage(db, runId)) });

      if ((status === 'cancelling' || status === 'paused') && !stopping) stopWorkers();
      if (stopping && Date.now() - stopping.since > KILL_AFTER_MS) {
        for (const state of workers) killGroup(state.child.pid);
      }
      // A step that overruns its timeout by more than the worker's own abort is killed with its process.
      for (const state of workers) {
        if (
          state.current &&
          !state.killedForTimeout &&
          Date.now() - state.current.at > run.item_timeout_ms + 5_000
        ) {
          state.killedForTimeout = true;
          killGroup(state.child.pid);
        }
      }

      const alive = [...workers].some((state) => !state.exited);
      if (alive) continue;
      if (status === 'cancelling') {
        await releaseWorkItems(db, { runId });
        await transitionRun(db, runId, ['cancelling'], 'cancelled', {
          status_reason: 'cancelled by the user',
        });
        final = 'cancelled';
        break;
      }
      if (status === 'paused') {
        await releaseWorkItems(db, { runId });
        final = 'paused';
        break;
      }
      await skipOrphanedDependents(db, runId, needs);
      const after = await runCoverage(db, runId);
      if (after.total.pending + after.total.running === 0) {
        await transitionRun(db, runId, ['running'], 'completed', { finished_at: new Date().toISOString() });
        final = 'completed';
        break;
      }
      if (!stopping) spawnWorker(); // workers left early (e.g. all were waiting out a backoff): carry on
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    for (const state of workers) killGroup(state.child.pid);
  }

  const ended = await getRun(db, runId);
  const stats = await computeRunStats(db, runId, {
    startedAt: ended.started_at,
    finishedAt: ended.finished_at ?? new Date().toISOString(),
    workers: options.workers,
    workerCpuMs: cpuMs,
    peakWorkerRssBytes: peakRss,
    workerCrashes: crashes,
  });
  await db
    .updateTable('runs')
    .set({ stats_json: JSON.stringify(stats), heartbeat_at: null })
    .where('id', '=', runId)
    .execute();
  return final;
}

/** SIGKILL to a worker's whole process group (it leads one: `detached`); nothing if it is gone already. */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // no such group: everything in it has exited
  }
}
