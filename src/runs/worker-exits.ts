import type { Home } from '../home/home.js';
import type { RunRow } from '../store/schema.js';
import { countWorkerCrash } from '../store/run-coordinators-repository.js';
import { transitionRun } from '../store/runs-repository.js';
import { attemptsOf, releaseItems, skipOrphanedDependents } from '../store/work-items-repository.js';
import { journalPath, sweepJournal } from '../artifacts/store-journal.js';
import { diskFullReason, isNearlyFull, saysDiskFull } from './disk-full.js';
import { failWorkItem } from './finish-work-item.js';
import type { RunLog } from './run-log.js';
import type { PooledWorker, WorkerPool } from './worker-pool.js';

/** Workers dying this many times in a row without finishing an item means something is wrong with the setup. */
const CRASH_LOOP_LIMIT = 8;

/** What an exit means depends on where the session is: the coordinator says. */
export interface SessionState {
  /** Cancelling or pausing: a worker killed after the grace did nothing wrong. */
  readonly stopping: boolean;
  /** No item left: a worker stopped now did nothing wrong. */
  readonly draining: boolean;
  onDiskFull(reason: string): void;
}

/**
 * What the exit of a local worker means for the run: nothing (a clean exit, or one while stopping), a
 * full disk (no attempt charged), or a crash: its item in hand fails (`worker-crashed` with the signal,
 * or `timeout`), what it claimed ahead goes back, and the worker is replaced unless workers keep dying.
 */
export class WorkerExits {
  constructor(
    private readonly home: Home,
    private readonly runRow: RunRow,
    private readonly log: RunLog,
    private readonly pool: WorkerPool,
    private readonly needs: Record<string, readonly string[]>,
    private readonly session: SessionState,
  ) {}

  async onExit(worker: PooledWorker, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    const { db } = this.home;
    const clean = code === 0 && !signal;
    // Files it put in the store whose rows it never committed go now (store-journal.ts, rule 4).
    if (worker.child.pid !== undefined && !clean) {
      await sweepJournal(this.home, journalPath(this.home.layout, worker.child.pid));
    }
    // Stopping (cancel or pause): a worker killed after the grace period did nothing wrong; its item is
    // released with the others when the run stops.
    if (this.session.stopping) return;
    // The run has no item left: a worker stopped or killed now did nothing wrong (a frozen one whose
    // lease lapsed was counted as it should be, when it was killed for it).
    if (this.session.draining && !worker.killedForLease) return;
    if (!clean && diedOfFullDisk(worker, this.home.layout.root)) {
      // It died writing to a full disk (a tool's ENOSPC, an unforeseen write): the disk's fault, not
      // the file's. No attempt is charged: the run pauses and its items go back.
      this.session.onDiskFull(
        diskFullReason(this.home.layout.root, `worker ${worker.id}`, new Error('ENOSPC')),
      );
      return;
    }
    const figures = this.pool.figures;
    if (worker.current && !clean) await this.failCrashedItem(worker, worker.current, code, signal);
    if (clean) return;
    if (worker.killedStopped && !worker.current) {
      // Stopped by someone while it held no item: it lost nothing and says nothing about the setup,
      // so no crash is counted; what it claimed ahead goes back, and it is replaced.
      this.log.warn(
        { event: 'worker-died', worker: worker.id, signal, stopped: true },
        'stopped worker replaced',
      );
      await releaseItems(db, { runId: this.runRow.id, owner: worker.id });
      this.pool.spawn();
      return;
    }
    if (!worker.current) {
      // Died, or killed for its lapsed leases, between items (a claim taken but not yet started, say):
      // nothing was charged to an item, but the crash is counted and must say so in the run's log.
      await this.countCrash(worker, null, code, signal);
    }
    // Items the dead worker had claimed ahead but not started did nothing wrong: back to pending.
    await releaseItems(db, { runId: this.runRow.id, owner: worker.id });
    if (figures.crashesInARow >= CRASH_LOOP_LIMIT) {
      await transitionRun(db, this.runRow.id, ['running'], 'paused', {
        status_reason: `workers crashed ${figures.crashesInARow} times in a row: ${worker.stderr.at(-1) ?? 'no message'}`,
      });
    } else {
      this.pool.spawn(); // replace the dead worker; the run goes on
    }
  }

  /**
   * A crash of the run, with its line in the run's log. Counted on the run, not in memory: a resumed
   * run's figures include the crashes of every session.
   */
  private async countCrash(
    worker: PooledWorker,
    itemId: number | null,
    code: number | null,
    signal: NodeJS.Signals | null,
  ): Promise<void> {
    await countWorkerCrash(this.home.db, this.runRow.id);
    this.pool.figures.crashesInARow++;
    this.log.warn(
      {
        event: 'worker-died',
        worker: worker.id,
        itemId,
        code,
        signal,
        timeout: worker.killedForTimeout,
        leaseLapsed: worker.killedForLease,
        stopped: worker.killedStopped,
        stderrTail: worker.stderr.slice(-20),
      },
      itemId === null
        ? `worker ${worker.id} died between items`
        : `worker ${worker.id} died on item ${itemId}`,
    );
  }

  /** The item a worker died on: a failed attempt (`worker-crashed` with the signal, or `timeout`). */
  private async failCrashedItem(
    worker: PooledWorker,
    item: { itemId: number; at: number },
    code: number | null,
    signal: NodeJS.Signals | null,
  ): Promise<void> {
    const { db } = this.home;
    await this.countCrash(worker, item.itemId, code, signal);
    const attempts = await attemptsOf(db, item.itemId);
    const how = worker.killedForTimeout
      ? 'timeout'
      : worker.killedStopped
        ? 'worker was stopped by a signal past its lease'
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
}

/** A worker that died saying ENOSPC, or while the home's disk has next to nothing left. */
function diedOfFullDisk(worker: PooledWorker, root: string): boolean {
  if (worker.killedForTimeout || worker.killedForLease) return false;
  return saysDiskFull(worker.stderr.join('\n')) || isNearlyFull(root);
}
