import os from 'node:os';
import { ArchivistError } from '../errors.js';
import type { Home } from '../home/home.js';
import { findPipeline } from '../pipeline/registry.js';
import type { RunRow, RunStatus } from '../store/schema.js';
import {
  beatRun,
  getRun,
  runCoverage,
  saveRunStats,
  takeRun,
  transitionRun,
  type StepCounts,
} from '../store/runs-repository.js';
import {
  attemptsOf,
  hasLiveLeases,
  releaseItems,
  skipOrphanedDependents,
} from '../store/work-items-repository.js';
import { failWorkItem } from './finish-work-item.js';
import { withReconnect } from './reconnect.js';
import { computeRunStats } from './run-stats.js';
import { openRunLog, type RunLog } from './run-log.js';
import { WorkerPool, type PooledWorker } from './worker-pool.js';
import { needsOf } from './worker-context.js';
import { removeStaleScratchDirs } from './scratch-dirs.js';

const TICK_MS = 500;
/** In-flight steps get this long to finish after a cancel before they are aborted. */
export const CANCEL_GRACE_MS = 2_000;
/** After the grace, a worker that still has not exited is killed. */
const KILL_AFTER_MS = CANCEL_GRACE_MS + 5_000;
/** Workers dying this many times in a row without finishing an item means something is wrong with the setup. */
const CRASH_LOOP_LIMIT = 8;

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
  // Only a run waiting for a coordinator: a start or resume leaves it `queued`.
  if (!(await takeRun(home.db, runId, { pid: process.pid, host: os.hostname(), workers: options.workers }))) {
    const run = await getRun(home.db, runId);
    throw new ArchivistError('usage', `run ${runId} is ${run.status}: it cannot be started or resumed now`);
  }
  return new Coordinator(home, await getRun(home.db, runId), options).run();
}

class Coordinator {
  private readonly log: RunLog;
  private readonly needs: Record<string, readonly string[]>;
  private readonly pool: WorkerPool;
  private stoppingSince: number | null = null;
  private wake: () => void = () => undefined;

  constructor(
    private readonly home: Home,
    private readonly runRow: RunRow,
    private readonly options: CoordinateOptions,
  ) {
    this.needs = needsOf(findPipeline(`${runRow.pipeline_name}@${runRow.pipeline_version}`));
    this.log = openRunLog(home.layout, runRow.id, 'coordinator');
    this.pool = new WorkerPool(home, runRow, options.workers, this.log, (worker, code, signal) =>
      this.onWorkerExit(worker, code, signal).finally(() => this.wake()),
    );
  }

  async run(): Promise<RunStatus> {
    // Workers killed in an earlier session (of this run or another) left their scratch folders behind.
    const staleRemoved = removeStaleScratchDirs(this.home.layout);
    this.log.info(
      { event: 'coordinator-start', workers: this.options.workers, staleRemoved },
      'coordinator took the run',
    );
    // Ctrl-C in a foreground run is a cancel: committed work stays, the run can be resumed.
    const onSignal = () => void transitionRun(this.home.db, this.runRow.id, ['running'], 'cancelling');
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    for (let i = 0; i < this.options.workers; i++) this.pool.spawn();
    let final: RunStatus | null = null;
    try {
      while (final === null) {
        await this.nextTick();
        final = await withReconnect(this.log, 'coordinator tick', () => this.tick());
      }
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      this.pool.killAll();
    }
    await this.saveFigures();
    return final;
  }

  /** A tick, or sooner when a worker exits: the end of a run is noticed at once, not on the next tick. */
  private nextTick(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, TICK_MS);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    }).finally(() => {
      this.wake = () => undefined;
    });
  }

  /** Beats, follows the run's status, polices the workers; the final status once every worker is gone. */
  private async tick(): Promise<RunStatus | null> {
    const { db } = this.home;
    const status = await beatRun(db, this.runRow.id);
    // Counting a run's items by status reads all of them: only for a terminal showing progress.
    if (this.options.onTick) this.options.onTick({ status, ...(await runCoverage(db, this.runRow.id)) });
    if ((status === 'cancelling' || status === 'paused') && this.stoppingSince === null) {
      this.stoppingSince = Date.now();
      this.pool.stopAll(CANCEL_GRACE_MS);
    }
    if (this.stoppingSince !== null && Date.now() - this.stoppingSince > KILL_AFTER_MS) this.pool.killAll();
    this.pool.killOverdue(this.runRow.item_timeout_ms + 5_000);
    if (this.pool.anyAlive) return null;
    return this.settle(status);
  }

  /** Every worker is gone: end the run in the status it asked for, or carry on if items are left. */
  private async settle(status: RunStatus): Promise<RunStatus | null> {
    const { db } = this.home;
    const runId = this.runRow.id;
    // Workers on other hosts stop on their own (they follow the run's status): give them the grace to
    // give back or commit what they hold, rather than release it under them and refuse their commits.
    const stopping = status === 'cancelling' || status === 'paused';
    if (stopping && this.stoppingSince !== null && Date.now() - this.stoppingSince < KILL_AFTER_MS) {
      if (await hasLiveLeases(db, runId)) return null;
    }
    if (status === 'cancelling') {
      await releaseItems(db, { runId });
      await transitionRun(db, runId, ['cancelling'], 'cancelled', { status_reason: 'cancelled by the user' });
      return 'cancelled';
    }
    if (status === 'paused') {
      await releaseItems(db, { runId });
      return 'paused';
    }
    // Recorded as ended by someone else while this coordinator could not beat (its host was cut off
    // from the database): a worker on another host, or any command, found it silent. Its workers have
    // stopped claiming; starting more would only see the same status.
    if (status === 'interrupted' || status === 'cancelled') return status;
    await skipOrphanedDependents(db, runId, this.needs);
    const after = await runCoverage(db, runId);
    if (after.total.pending + after.total.running === 0) {
      await transitionRun(db, runId, ['running'], 'completed', { finished_at: new Date().toISOString() });
      return 'completed';
    }
    // Workers left early (e.g. all were waiting out a backoff): carry on.
    if (this.stoppingSince === null) this.pool.spawn();
    return null;
  }

  private async onWorkerExit(
    worker: PooledWorker,
    code: number | null,
    signal: NodeJS.Signals | null,
  ): Promise<void> {
    // Stopping (cancel or pause): a worker killed after the grace period did nothing wrong; its item is
    // released with the others when the run stops.
    if (this.stoppingSince !== null) return;
    const clean = code === 0 && !signal;
    const figures = this.pool.figures;
    if (worker.current && !clean) await this.failCrashedItem(worker, worker.current, code, signal);
    if (clean) return;
    if (!worker.current) {
      figures.crashes++;
      figures.crashesInARow++;
    }
    // Items the dead worker had claimed ahead but not started did nothing wrong: back to pending.
    await releaseItems(this.home.db, { runId: this.runRow.id, owner: worker.id });
    if (figures.crashesInARow >= CRASH_LOOP_LIMIT) {
      await transitionRun(this.home.db, this.runRow.id, ['running'], 'paused', {
        status_reason: `workers crashed ${figures.crashesInARow} times in a row: ${worker.stderr.at(-1) ?? 'no message'}`,
      });
    } else {
      this.pool.spawn(); // replace the dead worker; the run goes on
    }
  }

  /** The item a worker died on: a failed attempt (`worker-crashed` with the signal, or `timeout`). */
  private async failCrashedItem(
    worker: PooledWorker,
    item: { itemId: number; at: number },
    code: number | null,
    signal: NodeJS.Signals | null,
  ): Promise<void> {
    const { db } = this.home;
    this.pool.figures.crashes++;
    this.pool.figures.crashesInARow++;
    const attempts = await attemptsOf(db, item.itemId);
    this.log.warn(
      {
        event: 'worker-died',
        worker: worker.id,
        itemId: item.itemId,
        code,
        signal,
        timeout: worker.killedForTimeout,
        stderrTail: worker.stderr.slice(-20),
      },
      `worker ${worker.id} died on item ${item.itemId}`,
    );
    const how = worker.killedForTimeout ? 'timeout' : `worker crashed (${signal ?? `exit code ${code}`})`;
    const max = this.runRow.max_attempts;
    const result = await failWorkItem(db, item.itemId, null, {
      reason: worker.killedForTimeout ? 'timeout' : 'worker-crashed',
      message:
        (attempts ?? 0) >= max
          ? `${how} ${attempts ?? '?'} times`
          : `${how} on attempt ${attempts ?? '?'} of ${max}`,
      stderrTail: worker.stderr.slice(-20).join('\n') || null,
      retryable: true,
      durationMs: Date.now() - item.at,
      worker: worker.id,
    });
    if (result === 'failed') await skipOrphanedDependents(db, this.runRow.id, this.needs);
  }

  private async saveFigures(): Promise<void> {
    const { db } = this.home;
    const ended = await getRun(db, this.runRow.id);
    const { cpuMs, peakRss, crashes } = this.pool.figures;
    const stats = await computeRunStats(db, this.runRow.id, {
      startedAt: ended.started_at,
      finishedAt: ended.finished_at ?? new Date().toISOString(),
      workers: this.options.workers,
      workerCpuMs: cpuMs,
      peakWorkerRssBytes: peakRss,
      workerCrashes: crashes,
    });
    await saveRunStats(db, this.runRow.id, JSON.stringify(stats));
  }
}
