import os from 'node:os';
import { ArchivistError } from '../errors.js';
import type { Home } from '../home/home.js';
import { findPipeline } from '../pipeline/registry.js';
import { isLockWaitTimeout } from '../store/database.js';
import type { RunRow, RunStatus } from '../store/schema.js';
import { runCoverage, type StepCounts } from '../store/run-outcomes-repository.js';
import { beatRun, saveRunStats, takeRun } from '../store/run-coordinators-repository.js';
import { getRun, transitionRun } from '../store/runs-repository.js';
import { hasLiveLeases, releaseItems, skipOrphanedDependents } from '../store/work-items-repository.js';
import { diskFullReason, isDiskFull } from './disk-full.js';
import { DiskReserve } from './disk-reserve.js';
import { leaseMsOf } from './lease.js';
import { LeaseSupervisor } from './lease-supervision.js';
import { withReconnect } from './reconnect.js';
import { computeRunStats } from './run-stats.js';
import { openRunLog, type RunLog } from './run-log.js';
import { CANCEL_GRACE_MS, RunStopping } from './run-stopping.js';
import { WorkerExits } from './worker-exits.js';
import { WorkerPool } from './worker-pool.js';
import { needsOf } from './worker-context.js';
import { removeStaleScratchDirs, removeStaleTempFiles } from './scratch-dirs.js';
import { reconcileStaleJournals } from '../artifacts/store-journal.js';

const TICK_MS = 500;
/** Tries at recording a disk-full pause (the reserve freed room; another process may take it first). */
const PAUSE_TRIES = 10;

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
  private readonly stopping = new RunStopping();
  private readonly leases: LeaseSupervisor;
  private readonly exits: WorkerExits;
  private readonly reserve: DiskReserve;
  private readonly ticks = new TickTimer(TICK_MS);

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
      // Its writes may wait on a lock a stopped worker holds until the tick kills that one: retried.
      withReconnect(this.log, 'a worker exit', () => this.exits.onExit(worker, code, signal))
        .catch((error: unknown) => this.onWriteError(error))
        .finally(() => this.ticks.wake()),
    );
    this.pool.onDiskFull = (reason) => this.onDiskFull(reason);
    this.leases = new LeaseSupervisor(home.db, runRow.id, this.pool, leaseMsOf(home.config));
    const { stopping, leases } = this;
    this.exits = new WorkerExits(home, runRow, this.log, this.pool, this.needs, {
      get stopping() {
        return stopping.stopping;
      },
      get draining() {
        return leases.draining;
      },
      onDiskFull: (reason) => this.onDiskFull(reason),
    });
  }

  /**
   * A write of the run was refused by a full disk (drill I): every worker stops now (in-flight work is
   * given back, no attempt charged), and once they are gone the run is recorded `paused` with the reason.
   */
  private onDiskFull(reason: string): void {
    if (!this.stopping.noteDiskFull(reason)) return;
    this.log.warn({ event: 'disk-full', reason }, reason);
    this.ticks.wake();
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
    if (this.stopping.diskFull === null) for (let i = 0; i < this.options.workers; i++) this.pool.spawn();
    let final: RunStatus | null = null;
    try {
      while (final === null) {
        await this.ticks.next();
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

  /** Beats, follows the run's status, polices the workers; the final status once every worker is gone. */
  private async tick(): Promise<RunStatus | null> {
    const { status, locked } = await this.beat();
    // The lock was held past busy_timeout (10 s): a worker stopped by a signal is the one holding it
    // (SQLite's only write lock, taken inside a transaction): killed now, the lock goes with it.
    const freed = locked && this.pool.killStopped(0) > 0;
    // Counting a run's items by status reads all of them: only for a terminal showing progress.
    if (this.options.onTick)
      this.options.onTick({ status, ...(await runCoverage(this.home.db, this.runRow.id)) });
    if (this.stopping.beginIfAsked(status === 'cancelling' || status === 'paused')) {
      // A full disk leaves nothing to finish: in-flight work is given back at once, uncharged.
      this.pool.stopAll(this.stopping.diskFull !== null ? 0 : CANCEL_GRACE_MS);
    }
    if (this.stopping.pastKillDeadline) this.pool.killAll();
    this.pool.killOverdue(this.runRow.item_timeout_ms + 5_000);
    // Leases that lapsed behind that lock say nothing of their workers: judged on the next tick.
    if (!this.stopping.stopping && this.pool.anyAlive && !freed) await this.leases.supervise();
    if (this.pool.anyAlive) return null;
    return this.settle(status);
  }

  /**
   * The run's heartbeat; on a full disk (nothing can be written) only its status is read. A heartbeat
   * refused by a lock held for seconds is skipped, not retried here: the tick must go on to supervise
   * the workers, since the frozen one holding the lock is killed only there.
   */
  private async beat(): Promise<{ status: RunStatus; locked: boolean }> {
    let locked = false;
    if (this.stopping.diskFull === null) {
      try {
        return { status: await beatRun(this.home.db, this.runRow.id), locked };
      } catch (error) {
        if (!isLockWaitTimeout(error)) this.onWriteError(error);
        locked = true;
        this.log.warn({ event: 'database-locked', what: 'heartbeat' }, 'database locked: heartbeat skipped');
      }
    }
    return { status: (await getRun(this.home.db, this.runRow.id)).status, locked };
  }

  /** Every worker is gone: end the run in the status it asked for, or carry on if items are left. */
  private async settle(status: RunStatus): Promise<RunStatus | null> {
    const { db } = this.home;
    const runId = this.runRow.id;
    const { diskFull } = this.stopping;
    // A worker may have recorded the pause itself already (it had room): the items still go back here.
    if (diskFull !== null && (status === 'running' || status === 'paused'))
      return this.pauseForDiskFull(diskFull);
    // Workers on other hosts stop on their own (they follow the run's status): give them the grace to
    // give back or commit what they hold, rather than release it under them and refuse their commits.
    const asked = status === 'cancelling' || status === 'paused';
    if (asked && this.stopping.stopping && !this.stopping.pastKillDeadline) {
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
    if (!this.stopping.stopping) this.pool.spawn();
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

/** The coordinator's tick, which a worker's exit brings forward: the end of a run is noticed at once. */
class TickTimer {
  private wakeNow: () => void = () => undefined;

  constructor(private readonly ms: number) {}

  next(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.ms);
      this.wakeNow = () => {
        clearTimeout(timer);
        resolve();
      };
    }).finally(() => {
      this.wakeNow = () => undefined;
    });
  }

  wake(): void {
    this.wakeNow();
  }
}
