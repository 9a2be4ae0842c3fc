import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkItemRow } from '../store/schema.js';
import { leaseOf, releaseItems, renewLeases } from '../store/work-items-repository.js';
import { claimWorkItem, type ClaimResult } from './claim-work-item.js';
import { isDiskFull, diskFullReason } from './disk-full.js';
import { leaseMsOf } from './lease.js';
import { transitionRun } from '../store/runs-repository.js';
import { PendingCompletions } from './pending-completions.js';
import { sweepOwnJournal } from '../artifacts/store-journal.js';
import { ItemProcessor } from './process-item.js';
import { makeScratchDir, removeScratchDir } from './scratch-dirs.js';
import { withReconnect } from './reconnect.js';
import { needsOf, planSteps, type WorkerContext } from './worker-context.js';
import type { Finished } from './worker-messages.js';

export type { WorkerContext };
export { needsOf };

export type WorkerExit = 'finished' | 'stopped' | 'paused' | 'disk-full';

/**
 * A worker claims as many items at once as it expects to finish in this long: a claim is a write
 * transaction of its own, and at camera-photo speed (20-80 ms an item) one per item was a tenth of the
 * worker's own CPU. Short enough that the items a worker holds but has not started stay a moment's work,
 * so the run's "running" count means what it says and the last items of a run are not stuck behind a
 * busy worker.
 */
const AHEAD_MS = 250;
/**
 * At most this many items claimed ahead; their leases are all extended by the worker's heartbeat. With
 * bookkeeping-only items (well under a millisecond each) a batch of 128 was a write transaction, with
 * its wait for the write lock and its commit, every 50 ms or so per worker: a good part of the run.
 * AHEAD_MS keeps slow items in small batches whatever this is.
 */
const MAX_BATCH = 512;
/** A batch this large means quick items (AHEAD_MS / QUICK_BATCH, under 8 ms each): worth claiming ahead. */
const QUICK_BATCH = 32;

/** How many items to claim next: more while items are quick (bookkeeping dominates), one when slow. */
class BatchSize {
  value = 1;
  private meanMs: number | null = null;
  /** The shortest mean item time the size is computed from (see the constructor's callers). */
  constructor(private readonly floorMs: number) {}
  record(tookMs: number): void {
    this.meanMs = this.meanMs === null ? tookMs : this.meanMs * 0.8 + tookMs * 0.2;
    this.value = Math.max(
      1,
      Math.min(MAX_BATCH, this.value * 2, Math.floor(AHEAD_MS / Math.max(this.meanMs, this.floorMs))),
    );
  }
}

/** Claims and processes items until the run has nothing left for us, is stopped, or is paused. */
export async function runWorkerLoop(outer: WorkerContext): Promise<WorkerExit> {
  // A full disk stops this worker as a stop and an abort would: no more claims, the item in hand given back.
  const halt = new AbortController();
  let diskFull: string | null = null;
  const context: WorkerContext = {
    ...outer,
    stop: AbortSignal.any([outer.stop, halt.signal]),
    abortWork: AbortSignal.any([outer.abortWork, halt.signal]),
    diskFull(what, error) {
      if (diskFull !== null) return;
      diskFull = diskFullReason(outer.home.layout.root, what, error);
      outer.log.warn({ event: 'disk-full', what, error: String(error) }, diskFull);
      outer.send({ type: 'disk-full', reason: diskFull });
      halt.abort(new Error('disk-full'));
      // A worker without a coordinator (`archivist worker`) pauses the run itself, if the database has
      // room for it; the coordinator does it otherwise, with the space its reserve frees.
      void transitionRun(outer.home.db, outer.run.id, ['running'], 'paused', {
        status_reason: diskFull,
      }).catch(() => undefined);
    },
  };
  try {
    const why = await workLoop(context);
    return diskFull !== null ? 'disk-full' : why;
  } catch (error) {
    // A refused write anywhere (a claim's or a completion's transaction: SQLITE_FULL) ends this worker
    // cleanly: what it holds is given back by its coordinator when the run pauses, uncharged.
    if (!isDiskFull(error)) throw error;
    context.diskFull!('writing to the database', error);
    return 'disk-full';
  }
}

async function workLoop(context: WorkerContext): Promise<WorkerExit> {
  const now = context.now ?? Date.now;
  const { home, run, workerId } = context;
  const leaseMs = leaseMsOf(home.config);
  const needs = needsOf(context.pipeline);
  // This worker's own tool versions go into the lineage of what it makes; asked before its first item.
  const plans = await planSteps(context.pipeline, run);
  // One scratch directory per worker process, made once; a step removes what it no longer needs, and the
  // whole directory goes when the worker exits (see scratch-dirs.ts for one that is killed).
  const scratchDir = await makeScratchDir(home.layout);
  const completions = new PendingCompletions(home.db, home.layout, workerId, context.log);
  const processor = new ItemProcessor(context, plans, completions, scratchDir);
  const queue: WorkItemRow[] = [];
  let inHand: WorkItemRow | null = null;
  const claimsAhead = home.database.kind === 'postgres';
  // Bookkeeping-only items take 0.1-0.5 ms. On PostgreSQL, where every claim is a dozen round trips,
  // their batches grow to MAX_BATCH (a mean measured in fractions of a millisecond); on SQLite, whose
  // claim is in-process, 512 instead of 250 measured no faster (slower in two runs of three, side by
  // side), so a mean under 1 ms counts as 1 ms there, as before.
  const batch = new BatchSize(claimsAhead ? 0.01 : 1);
  /** The limit of the latest claim: a batch that filled it says more items are probably pending. */
  let asked = 0;
  const claim = (): Promise<ClaimResult> => {
    asked = batch.value;
    return withReconnect(context.log, 'claim', () =>
      completions.within((record, empty) =>
        claimWorkItem(home.db, {
          runId: run.id,
          owner: workerId,
          leaseMs,
          needs,
          limit: asked,
          before: record,
          nothingToCommit: empty,
        }),
      ),
    );
  };
  // On PostgreSQL a claim (with the completions it commits) is a dozen round trips, each a wait on the
  // server, as long as working through a whole batch of quick items on a loaded machine. So while items
  // are quick, the next batch is claimed as soon as one arrives, and that wait overlaps the work. Its
  // items are leased (and heartbeated, from `reserved`) like the queue's. Not on SQLite, whose claim is
  // in-process with nothing to wait on, and not for slow items, which another worker may be idle for.
  let ahead: Promise<ClaimResult> | null = null;
  const reserved: WorkItemRow[] = [];
  const claimAhead = () => {
    ahead = claim().then((result) => {
      if (result.kind === 'claimed') reserved.push(...result.items);
      return result;
    });
    // Awaited when its items are wanted; a failure meanwhile must not be an unhandled rejection.
    ahead.catch(() => undefined);
  };
  /** The claim ahead, once it is in: what it said, its items moved out of `reserved`. */
  const takeAhead = async (): Promise<{ result: ClaimResult | null; items: WorkItemRow[] }> => {
    const pending = ahead;
    ahead = null;
    const result = pending ? await pending : null;
    return { result, items: reserved.splice(0) };
  };
  const giveBack = async (items: WorkItemRow[]) => {
    if (items.length > 0)
      await releaseItems(home.db, { runId: run.id, owner: workerId, itemIds: items.map((i) => i.id) });
  };
  // One heartbeat for every lease this worker holds, fenced by epoch: a lease that was taken over (it
  // expired while this host was cut off) is not renewed, and the work on it stops.
  const heartbeat = setInterval(() => {
    const held = [...(inHand ? [inHand] : []), ...queue, ...reserved, ...completions.held()];
    void renewLeases(home.db, workerId, held.map(leaseOf), leaseMs)
      .then((renewed) => {
        for (const item of held) {
          if (renewed.has(item.id)) continue;
          context.log.warn({ event: 'lease-lost', itemId: item.id }, 'lease taken over: work on it stops');
          processor.leaseLost(item.id);
          for (const list of [queue, reserved]) {
            const queued = list.indexOf(item);
            if (queued >= 0) list.splice(queued, 1);
          }
        }
      })
      .catch(() => undefined);
  }, leaseMs / 3);
  // The item just finished is told to the coordinator with the next one's claim when that follows at
  // once (one IPC write per quick item instead of two); before anything that waits, it is told alone,
  // so the coordinator never times an item that is over or blames it for a death that came after.
  let finished: Finished | null = null;
  const tellFinished = () => {
    if (finished) context.send({ type: 'finished', ...finished });
    finished = null;
  };
  try {
    while (!context.stop.aborted) {
      if (queue.length === 0) {
        tellFinished();
        const early = await takeAhead();
        // A `wait` said ahead is stale now that this worker's own items are done: ask again.
        const result = early.result && early.result.kind !== 'wait' ? early.result : await claim();
        if (result.kind === 'stopped') return result.status === 'paused' ? 'paused' : 'stopped';
        if (result.kind === 'finished') return 'finished';
        if (result.kind === 'wait') {
          // Our own items still being stored may be what the run waits for: commit them first.
          if (completions.busy) await completions.settle();
          else if (context.idleWait) await context.idleWait(context.stop);
          else await sleep(100, undefined, { signal: context.stop }).catch(() => undefined);
          continue;
        }
        // The items still held of the claim ahead (a lease lost meanwhile took its item out).
        const items = early.result === result ? early.items : result.items;
        queue.push(...items);
        if (claimsAhead && batch.value >= QUICK_BATCH && result.items.length >= asked) claimAhead();
        await withReconnect(context.log, 'prefetch', () => processor.prefetch(items));
      }
      const item = queue.shift()!;
      inHand = item;
      const started = now();
      const startedPrecisely = performance.now();
      context.send({
        type: 'claimed',
        itemId: item.id,
        step: item.step,
        assetId: item.asset_id,
        at: started,
        ...(finished ? { finished } : {}),
      });
      finished = null;
      const outcome = await processor.process(item);
      inHand = null;
      finished = { itemId: item.id, outcome };
      // Told as the loop ends (finally).
      if (outcome === 'released') return context.abortWork.aborted ? 'stopped' : 'paused';
      const took = now() - started;
      // An injected clock (tests) decides alone; otherwise the monotonic clock, to a fraction of a ms.
      batch.record(context.now ? took : performance.now() - startedPrecisely);
      // An item longer than the whole allowance gives back what was claimed behind it, so the other
      // workers take those instead of waiting.
      if (took >= AHEAD_MS && (queue.length > 0 || ahead)) {
        tellFinished();
        await completions.flush();
        await giveBack([...queue.splice(0), ...(await takeAhead()).items]);
      }
    }
    return 'stopped';
  } finally {
    tellFinished();
    clearInterval(heartbeat);
    try {
      await completions.flush();
      // Items claimed ahead but never started go back untouched, without using an attempt.
      const late = await takeAhead().catch(() => ({ items: reserved.splice(0) }));
      await giveBack([...queue.splice(0), ...late.items]);
    } catch (error) {
      // On a full disk these writes fail too; the coordinator releases every item when the run pauses.
      if (!isDiskFull(error)) throw error; // eslint-disable-line no-unsafe-finally
      context.diskFull?.('writing to the database', error);
    }
    // Files of refused completions (their lease was taken over) have no row: they go now, not at gc.
    await sweepOwnJournal(home).catch((error: unknown) =>
      context.log.warn({ event: 'journal-sweep-failed', error: String(error) }, 'store journal not swept'),
    );
    removeScratchDir(scratchDir);
  }
}
