import type { Db } from '../store/database.js';
import type { WorkItemRow } from '../store/schema.js';
import { completeWorkItems, type DoneResult } from './finish-work-item.js';
import type { RunLog } from './run-log.js';

/**
 * Done items waiting to be committed together. Flushed before every claim (so an item that needs this one
 * sees it done) and when the worker stops; with slow items that is after every item, with quick ones after
 * a batch of claimed items: one transaction instead of one per item.
 */
export class PendingCompletions {
  private entries: { item: WorkItemRow; result: DoneResult }[] = [];
  constructor(
    private readonly db: Db,
    private readonly owner: string,
    private readonly log: RunLog,
  ) {}

  add(item: WorkItemRow, result: DoneResult): void {
    this.entries.push({ item, result });
  }

  async flush(): Promise<void> {
    const entries = this.entries;
    this.entries = [];
    const recorded = await completeWorkItems(this.db, this.owner, entries);
    recorded.forEach((ok, i) => {
      if (!ok)
        this.log.warn({ event: 'lease-lost', itemId: entries[i]!.item.id }, 'result discarded: lease lost');
    });
  }
}
