import type { Db } from '../store/database.js';
import type { WorkItemRow } from '../store/schema.js';
import { completeWorkItems, recordCompletions, type DoneResult } from './finish-work-item.js';
import type { RunLog } from './run-log.js';

type Entry = { item: WorkItemRow; result: DoneResult };

/**
 * Done items waiting to be committed together. Recorded before every claim, in the claim's own
 * transaction (so an item that needs this one sees it done, and a slow item costs one write transaction,
 * not two), and when the worker stops; with quick items that is one transaction per batch.
 */
export class PendingCompletions {
  private entries: Entry[] = [];
  constructor(
    private readonly db: Db,
    private readonly owner: string,
    private readonly log: RunLog,
  ) {}

  add(item: WorkItemRow, result: DoneResult): void {
    this.entries.push({ item, result });
  }

  /** Commits what is pending in a transaction of its own. */
  async flush(): Promise<void> {
    const entries = this.take();
    this.warnLost(entries, await completeWorkItems(this.db, this.owner, entries));
  }

  /**
   * Runs `transaction`, which must call `record` first thing inside its write transaction. If the
   * transaction fails, nothing was committed: the entries stay pending for the next attempt.
   */
  async within<T>(transaction: (record: (trx: Db) => Promise<void>) => Promise<T>): Promise<T> {
    const entries = this.take();
    let recorded: boolean[] = [];
    try {
      const result = await transaction(async (trx) => {
        recorded = await recordCompletions(trx, this.owner, entries);
      });
      this.warnLost(entries, recorded);
      return result;
    } catch (error) {
      this.entries = [...entries, ...this.entries];
      throw error;
    }
  }

  private take(): Entry[] {
    const entries = this.entries;
    this.entries = [];
    return entries;
  }

  private warnLost(entries: readonly Entry[], recorded: readonly boolean[]): void {
    recorded.forEach((ok, i) => {
      if (!ok)
        this.log.warn({ event: 'lease-lost', itemId: entries[i]!.item.id }, 'result discarded: lease lost');
    });
  }
}
