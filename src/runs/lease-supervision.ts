import type { Db } from '../store/database.js';
import { hasOpenItems, ownersOfLapsedLeases } from '../store/work-items-repository.js';
import type { WorkerPool } from './worker-pool.js';

/** Once no item is left, workers still alive (a frozen one, one slow to exit) get this long, then are killed. */
const DRAIN_KILL_MS = 2_000;

/**
 * Watches the leases of a run's local workers from the database: workers that stopped heartbeating are
 * replaced as soon as their lease lapses (not after the item's timeout: a SIGSTOPped process never
 * reaches its own), so are workers stopped by a signal for as long though they hold nothing, and once no item is left the workers still around are stopped and then killed, so
 * the run completes when its last item is done.
 */
export class LeaseSupervisor {
  /** Since when the run has no item left while some worker is still alive. */
  private drainingSince: number | null = null;

  constructor(
    private readonly db: Db,
    private readonly runId: string,
    private readonly pool: WorkerPool,
    private readonly leaseMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** No item is left: a worker that exits now did nothing wrong. */
  get draining(): boolean {
    return this.drainingSince !== null;
  }

  async supervise(): Promise<void> {
    // Reads only (a stopped worker holding SQLite's write lock would make a write wait): the lapsed
    // leases first, so a stopped worker that holds items is killed for its lease, as any frozen one.
    this.pool.killLapsed(await ownersOfLapsedLeases(this.db, this.runId));
    this.pool.killStopped(this.leaseMs);
    if (await hasOpenItems(this.db, this.runId)) {
      this.drainingSince = null;
      return;
    }
    if (this.drainingSince === null) {
      this.drainingSince = this.now();
      this.pool.stopAll(0);
    } else if (this.now() - this.drainingSince > DRAIN_KILL_MS) {
      this.pool.killAll();
    }
  }
}
