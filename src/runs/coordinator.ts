import os from 'node:os';
import { ArchivistError } from '../errors.js';
import type { Home } from '../home/home.js';
import { findPipeline } from '../pipeline/registry.js';
import type { RunRow, RunStatus } from '../store/schema.js';
import {
  beatRun,
  countWorkerCrash,
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
  hasOpenItems,
  ownersOfLapsedLeases,
  releaseItems,
  skipOrphanedDependents,
} from '../store/work-items-repository.js';
import { diskFullReason, isDiskFull, saysDiskFull } from './disk-full.js';
import { DiskReserve } from './disk-reserve.js';
import { diskSpace } from './disk-threshold.js';
import { failWorkItem } from './finish-work-item.js';
import { withReconnect } from './reconnect.js';
import { computeRunStats } from './run-stats.js';
import { openRunLog, type RunLog } from './run-log.js';
import { WorkerPool, type PooledWorker } from './worker-pool.js';
import { needsOf } from './worker-context.js';
import { removeStaleScratchDirs, removeStaleTempFiles } from './scratch-dirs.js';
import { journalPath, reconcileStaleJournals, sweepJournal } from '../artifacts/store-journal.js';

const TICK_MS = 500;
/** In-flight steps get this long to finish after a cancel before they are aborted. */
export const CANCEL_GRACE_MS = 2_000;
/** After the grace, a worker that still has not exited is killed. */
const KILL_AFTER_MS = CANCEL_GRACE_MS + 5_000;
/** Workers dying this many times in a row without finishing an item means something is wrong with the setup. */
const CRASH_LOOP_LIMIT = 8;
/** Once no item is left, workers still alive (a frozen one, one slow to exit) get this long, then are killed. */
const DRAIN_KILL_MS = 2_000;
/** Tries at recording a disk-full pause (the reserve freed room; another process may take it first). */
const PAUSE_TRIES = 10;
/** Less free than this when a worker died: its death is taken for the disk's, not the file's. */
const NEARLY_FULL_BYTES = 64 * 1024;

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
  /** Since when the run has no item left while some worker is still alive. */
  private drainingSince: number | null = null;
  /** Set when any write of the run was refused by a full disk: the reason with the figures. */
  private diskFull: string | null = null;
  private readonly reserve: DiskReserve;
  private wake: () => void = () => undefined;

  constructor(
    private readonly home: Home,
    private readonly runRow: RunRow,
    private readonly options: CoordinateOptions,
  ) {
    this.needs = needsOf(findPipeline(`${runRow.pipeline_name}@${runRow.pipeline_version}`));
    this.log = openRunLog(home.layout, runRow.id, 'coordinator', (error) => {
      if (isDiskFull(error)) this.onDiskFull(diskFullReason(home.layout.root, 'writing the run log', error));
    });
    this.reserve = new DiskReserve(home.layout);
    this.pool = new WorkerPool(home, runRow, options.workers, this.log, (worker, code, signal) =>
      this.onWorkerExit(worker, code, signal)
        .catch((error: unknown) => this.onWriteError(error))
        .finally(() => this.wake()),
    );
    this.pool.onDiskFull = (reason) => this.onDiskFull(reason);
  }

  /**
   * A write of the run was refused by a full disk (drill I): every worker stops now (in-flight work is
   * given back, no attempt charged), and once they are gone the run is recorded `paused` with the reason.
   */
  private onDiskFull(reason: string): void {
    if (this.diskFull !== null) return;
    this.diskFull = reason;
    this.log.warn({ event: 'disk-full', reason }, reason);
    this.wake();
  }

  /** A write that failed: a full disk pauses the run; anything else is a real error. */
  private onWriteError(error: unknown, what = 'writing to the database'): void {
    if (!isDiskFull(error)) throw error;
    this.onDiskFull(diskFullReason(this.home.layout.root, what, error));
  }

  async run(): Promise<RunStatus> {
    // Workers killed in an earlier session (of this run or another) left their scratch folders behind,
    // and perhaps files they had put in the store whose rows never committed (store-journal.ts).
    const staleRemoved = removeStaleScratchDirs(this.home.layout) + removeStaleTempFiles(this.home.layout);
    const orphansRemoved = await reconcileStaleJournals(this.home).catch((error: unknown) => {
      this.onWriteError(error, 'sweeping the store');
      return 0;
    });
    this.log.info(
      { event: 'coordinator-start', workers: this.options.workers, staleRemoved, orphansRemoved },
      'coordinator took the run',
    );
    try {
      this.reserve.take();
    } catch (error) {
      this.onWriteError(error, 'setting space aside for the run');
    }
    // Ctrl-C in a foreground run is a cancel: committed work stays, the run can be resumed.
    const onSignal = () =>
      void transitionRun(this.home.db, this.runRow.id, ['running'], 'cancelling').catch((error: unknown) =>
        this.log.error({ event: 'cancel-failed', error: String(error) }, 'cannot record the cancel'),
      );
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    if (this.diskFull === null) for (let i = 0; i < this.options.workers; i++) this.pool.spawn();
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
      this.reserve.release();
    }
    await this.saveFigures().catch((error: unknown) => this.onWriteError(error));
    // Workers of an earlier session that were still exiting when this one started are gone now.
    await reconcileStaleJournals(this.home).catch((error: unknown) =>
      this.onWriteError(error, 'sweeping the store'),
    );
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
    const status = await this.beat();
    // Counting a run's items by status reads all of them: only for a terminal showing progress.
    if (this.options.onTick) this.options.onTick({ status, ...(await runCoverage(db, this.runRow.id)) });
    const stopping = status === 'cancelling' || status === 'paused' || this.diskFull !== null;
    if (stopping && this.stoppingSince === null) {
      this.stoppingSince = Date.now();
      // A full disk leaves nothing to finish: in-flight work is given back at once, uncharged.
      this.pool.stopAll(this.diskFull !== null ? 0 : CANCEL_GRACE_MS);
    }
    if (this.stoppingSince !== null && Date.now() - this.stoppingSince > KILL_AFTER_MS) this.pool.killAll();
    this.pool.killOverdue(this.runRow.item_timeout_ms + 5_000);
    if (this.stoppingSince === null && this.pool.anyAlive) await this.superviseLeases();
    if (this.pool.anyAlive) return null;
    return this.settle(status);
  }

  /** The run's heartbeat; on a full disk (nothing can be written) only its status is read. */
  private async beat(): Promise<RunStatus> {
    if (this.diskFull === null) {
      try {
        return await beatRun(this.home.db, this.runRow.id);
      } catch (error) {
        this.onWriteError(error);
      }
    }
    return (await getRun(this.home.db, this.runRow.id)).status;
  }

  /**
   * Workers that stopped heartbeating are replaced as soon as their lease lapses (not after the item's
   * timeout: a SIGSTOPped process never reaches its own), and once no item is left the workers still
   * around are stopped and then killed, so the run completes when its last item is done.
   */
  private async superviseLeases(): Promise<void> {
    const { db } = this.home;
    this.pool.killLapsed(await ownersOfLapsedLeases(db, this.runRow.id));
    if (await hasOpenItems(db, this.runRow.id)) {
      this.drainingSince = null;
      return;
    }
    if (this.drainingSince === null) {
      this.drainingSince = Date.now();
      this.pool.stopAll(0);
    } else if (Date.now() - this.drainingSince > DRAIN_KILL_MS) {
      this.pool.killAll();
    }
  }

  /** Every worker is gone: end the run in the status it asked for, or carry on if items are left. */
  private async settle(status: RunStatus): Promise<RunStatus | null> {
    const { db } = this.home;
    const runId = this.runRow.id;
    // A worker may have recorded the pause itself already (it had room): the items still go back here.
    if (this.diskFull !== null && (status === 'running' || status === 'paused'))
      return this.pauseForDiskFull(this.diskFull);
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

  /**
   * Every worker is gone and the disk is full: free the reserve (room for these few pages), give every
   * item in flight back without its attempt, and record the pause with the figures. Another process may
   * fill the freed room first; then a few more tries, and if the disk stays full the run is left to be
   * found `interrupted` by the next command that has room to say so.
   */
  private async pauseForDiskFull(reason: string): Promise<RunStatus> {
    const { db } = this.home;
    const runId = this.runRow.id;
    this.reserve.release();
    for (let attempt = 1; ; attempt++) {
      try {
        await releaseItems(db, { runId });
        await transitionRun(db, runId, ['running', 'paused'], 'paused', { status_reason: reason });
        return 'paused';
      } catch (error) {
        if (!isDiskFull(error) || attempt >= PAUSE_TRIES) throw error;
        await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
      }
    }
  }

  private async onWorkerExit(
    worker: PooledWorker,
    code: number | null,
    signal: NodeJS.Signals | null,
  ): Promise<void> {
    // Files it put in the store whose rows it never committed go now (store-journal.ts, rule 4).
    if (worker.child.pid !== undefined && !(code === 0 && !signal)) {
      await sweepJournal(this.home, journalPath(this.home.layout, worker.child.pid));
    }
    // Stopping (cancel or pause): a worker killed after the grace period did nothing wrong; its item is
    // released with the others when the run stops.
    if (this.stoppingSince !== null) return;
    // The run has no item left: a worker stopped or killed now did nothing wrong (a frozen one whose
    // lease lapsed was counted as it should be, when it was killed for it).
    if (this.drainingSince !== null && !worker.killedForLease) return;
    const clean = code === 0 && !signal;
    if (!clean && this.diedOfFullDisk(worker)) {
      // It died writing to a full disk (a tool's ENOSPC, an unforeseen write): the disk's fault, not
      // the file's. No attempt is charged: the run pauses and its items go back.
      this.onDiskFull(diskFullReason(this.home.layout.root, `worker ${worker.id}`, new Error('ENOSPC')));
      return;
    }
    const figures = this.pool.figures;
    if (worker.current && !clean) await this.failCrashedItem(worker, worker.current, code, signal);
    if (clean) return;
    if (!worker.current) {
      await countWorkerCrash(this.home.db, this.runRow.id);
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
    // Counted on the run, not in memory: a resumed run's figures include the crashes of every session.
    await countWorkerCrash(db, this.runRow.id);
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
        leaseLapsed: worker.killedForLease,
        stderrTail: worker.stderr.slice(-20),
      },
      `worker ${worker.id} died on item ${item.itemId}`,
    );
    const how = worker.killedForTimeout
      ? 'timeout'
      : worker.killedForLease
        ? 'worker stopped heartbeating (its lease lapsed)'
        : `worker crashed (${signal ?? `exit code ${code}`})`;
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

  /** A worker that died saying ENOSPC, or while the home's disk has next to nothing left. */
  private diedOfFullDisk(worker: PooledWorker): boolean {
    if (worker.killedForTimeout || worker.killedForLease) return false;
    if (saysDiskFull(worker.stderr.join('\n'))) return true;
    try {
      return diskSpace(this.home.layout.root).free < NEARLY_FULL_BYTES;
    } catch {
      return false;
    }
  }

  private async saveFigures(): Promise<void> {
    const { db } = this.home;
    const ended = await getRun(db, this.runRow.id);
    const { cpuMs, peakRss } = this.pool.figures;
    const stats = await computeRunStats(db, this.runRow.id, {
      startedAt: ended.started_at,
      finishedAt: ended.finished_at ?? new Date().toISOString(),
      workers: this.options.workers,
      workerCpuMs: cpuMs,
      peakWorkerRssBytes: peakRss,
      workerCrashes: Number(ended.worker_crashes),
    });
    await saveRunStats(db, this.runRow.id, JSON.stringify(stats));
  }
}
