import fs from 'node:fs';
import { absoluteArtifactPath } from '../artifacts/artifact-store.js';
import { clearJournal } from '../artifacts/store-journal.js';
import type { HomeLayout } from '../home/home-path.js';
import type { Db } from '../store/database.js';
import { withWriteLock } from '../store/dialect.js';
import type { WorkItemRow } from '../store/schema.js';
import type { WorkerTally } from '../store/run-workers-repository.js';
import { lockStoreFiles } from '../store/store-files-repository.js';
import {
  recordCompletions,
  releaseItems,
  type Completion,
  type DoneResult,
} from '../store/work-items-repository.js';
import type { RunLog } from './run-log.js';

type Entry = Completion;

/**
 * A stored result waits for the next claim to be committed, unless nothing was committed for this long:
 * then it is committed at once, so a user sees new results within a fraction of a second (the first one
 * of a run above all) without every item paying a transaction of its own.
 */
const EAGER_AFTER_MS = 500;

/**
 * Done items waiting to be committed together. Recorded before every claim, in the claim's own
 * transaction (so an item that needs this one sees it done, and a slow item costs one write transaction,
 * not two), and when the worker stops; with quick items that is one transaction per batch.
 *
 * An item whose artifact file is still being stored (written, fsynced, renamed) waits here too, and joins
 * the next claim after the store finished: the store's disk waits overlap the next item's tool work
 * instead of adding to it, and its row is still committed only once the file is in place.
 */
export class PendingCompletions {
  private entries: Entry[] = [];
  private readonly storing = new Set<Promise<void>>();
  /** Items whose file is still being stored: their leases must be renewed until they are committed. */
  private readonly storingItems = new Set<WorkItemRow>();
  private lastCommitAt = 0;
  constructor(
    private readonly db: Db,
    private readonly layout: HomeLayout,
    private readonly owner: string,
    private readonly log: RunLog,
  ) {}

  add(item: WorkItemRow, result: DoneResult): void {
    this.entries.push({ item, result });
  }

  /**
   * Adds the item once `result` (the store of its file) resolves; if it rejects, `onFailure` records
   * the failed attempt instead. Nothing of it is committed before either happened.
   */
  addWhenStored(
    item: WorkItemRow,
    result: Promise<DoneResult>,
    onFailure: (error: unknown) => Promise<void>,
  ): void {
    this.storingItems.add(item);
    const settled = result.then(
      async (done) => {
        this.add(item, done);
        if (Date.now() - this.lastCommitAt > EAGER_AFTER_MS) await this.commitReady();
      },
      (error: unknown) => onFailure(error),
    );
    const tracked = settled
      .catch((error: unknown) =>
        this.log.error({ event: 'store-failure-unrecorded', itemId: item.id, error: String(error) }),
      )
      .finally(() => {
        this.storing.delete(tracked);
        this.storingItems.delete(item);
      });
    this.storing.add(tracked);
  }

  /** Items done but not committed yet (stored or being stored): still leased to this worker. */
  held(): WorkItemRow[] {
    return [...this.entries.map((e) => e.item), ...this.storingItems];
  }

  /** True while a file is still being stored. */
  get busy(): boolean {
    return this.storing.size > 0;
  }

  /** Waits until every file being stored is in place (or its failure recorded). */
  async settle(): Promise<void> {
    while (this.storing.size > 0) await Promise.all([...this.storing]);
  }

  /** Commits everything pending, after the stores in progress, in a transaction of its own. */
  async flush(): Promise<void> {
    await this.settle();
    await this.commitReady();
  }

  /** Commits what is ready now (Kysely runs one transaction at a time on the connection). */
  private async commitReady(): Promise<void> {
    const entries = this.take();
    if (entries.length === 0) return;
    this.lastCommitAt = Date.now();
    try {
      this.warnLost(entries, await withWriteLock(this.db, (trx) => this.record(trx, entries)));
    } catch (error) {
      this.entries = [...entries, ...this.entries];
      throw error;
    }
    this.clearJournalIfIdle();
  }

  /**
   * Records entries inside the caller's write transaction, holding the store-files lock: a row is
   * committed only for a file that is in the store now (rule 2 of store-journal.ts). A file that a
   * sweep removed (a twin of an orphan it deleted) gives its item back, uncharged, to be done again.
   */
  private async record(trx: Db, entries: readonly Entry[], tally?: WorkerTally): Promise<boolean[]> {
    if (entries.length === 0) return [];
    await lockStoreFiles(trx, 'shared');
    const there = entries.map(({ result }) => {
      const artifact = result.artifact;
      if (!artifact || !('created' in artifact)) return true;
      try {
        const file = absoluteArtifactPath(this.layout, artifact.created.path);
        return fs.statSync(file).size === artifact.created.size;
      } catch {
        return false;
      }
    });
    const present = entries.filter((_, i) => there[i]);
    const vanished = entries.filter((_, i) => !there[i]);
    for (const { item } of vanished) {
      this.log.warn(
        { event: 'artifact-file-vanished', itemId: item.id },
        'stored file gone before commit: redo',
      );
      await releaseItems(trx, { runId: item.run_id, owner: this.owner, itemId: item.id });
    }
    const recorded = await recordCompletions(trx, this.owner, present, tally);
    let next = 0;
    // Aligned with `entries`; a vanished file's item was given back, not refused.
    return there.map((ok) => (ok ? recorded[next++]! : true));
  }

  /** Nothing stored is waiting for its row: this process's store journal can start afresh. */
  private clearJournalIfIdle(): void {
    if (this.entries.length === 0 && this.storing.size === 0) clearJournal();
  }

  /**
   * Runs `transaction`, which must call `record` first thing inside its write transaction. If the
   * transaction fails, nothing was committed: the entries stay pending for the next attempt. `empty`
   * says `record` has nothing to write.
   */
  async within<T>(
    transaction: (record: (trx: Db, tally?: WorkerTally) => Promise<void>, empty: boolean) => Promise<T>,
  ): Promise<T> {
    const entries = this.take();
    let recorded: boolean[] = [];
    try {
      const result = await transaction(async (trx, tally) => {
        recorded = await this.record(trx, entries, tally);
      }, entries.length === 0);
      if (entries.length > 0) {
        this.lastCommitAt = Date.now();
        this.warnLost(entries, recorded);
        this.clearJournalIfIdle();
      }
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

  /**
   * A refused completion: the lease was taken over (it expired while this worker was cut off or frozen)
   * and another worker's result is the one that counts. Counted for this worker in the run's figures;
   * its artifact file, if any, has no row and is left for `gc`.
   */
  private warnLost(entries: readonly Entry[], recorded: readonly boolean[]): void {
    recorded.forEach((ok, i) => {
      if (!ok)
        this.log.warn(
          { event: 'completion-refused', itemId: entries[i]!.item.id, epoch: entries[i]!.item.lease_epoch },
          'late completion refused: the lease was taken over',
        );
    });
  }
}
