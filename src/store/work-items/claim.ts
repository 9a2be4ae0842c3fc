import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../database.js';
import { dialectOf, withWriteLock } from '../dialect.js';
import type { RunStatus, WorkItemRow } from '../schema.js';
import { WorkerTally } from '../run-workers-repository.js';
import { formatHint } from '../wake-ups.js';
import { clockOf, type RetryRule } from './lease.js';
import { hasOpenItems } from './reads.js';

export type ClaimResult =
  /** `item` is the first of `items`; a worker asks for several at once only while items are fast. */
  | { kind: 'claimed'; item: WorkItemRow; items: WorkItemRow[] }
  /** Items remain but none can start yet (backoff, or waiting for an earlier step). */
  | { kind: 'wait' }
  /** Nothing pending or running is left. */
  | { kind: 'finished' }
  /** The run is no longer `running` (cancelling, paused, ...): stop claiming. */
  | { kind: 'stopped'; status: RunStatus };

export interface ClaimRequest {
  runId: string;
  owner: string;
  leaseMs: number;
  /** step -> the earlier steps whose artifacts it needs. */
  needs: Readonly<Record<string, readonly string[]>>;
  limit: number;
  retryRule: RetryRule;
  /** An injected clock (tests); the database's clock otherwise. */
  now?: number;
  /**
   * Runs first inside the claim's transaction: the worker commits its finished items with its claim,
   * counting them into `tally`, which the claim writes with its own count in one statement.
   */
  before?: (trx: Db, tally: WorkerTally) => Promise<void>;
  /** `before` has nothing to commit: the claim may look with a read first (see `nothingToClaim`). */
  nothingToCommit?: boolean;
}

/**
 * One transaction per batch: expired leases of the run go back to pending (or fail), then one statement
 * takes up to `limit` pending items whose wait is over and whose inputs are done, leasing them to `owner`
 * with a new epoch and counting the attempt now, so a worker that dies mid-item still used it.
 */
export async function claimItems(db: Db, request: ClaimRequest): Promise<ClaimResult> {
  if (request.nothingToCommit) {
    const idle = await nothingToClaim(db, request);
    if (idle) return idle;
  }
  return withWriteLock(db, async (trx) => {
    const tally = new WorkerTally();
    await request.before?.(trx, tally);
    const result = await claimInTransaction(trx, request, tally);
    // Whatever the claim found, the completions committed with it are counted.
    await tally.write(trx, request.owner, clockOf(trx, request.now));
    return result;
  });
}

/** The claim itself, inside the write transaction; the items it leases are counted into `tally`. */
async function claimInTransaction(trx: Db, request: ClaimRequest, tally: WorkerTally): Promise<ClaimResult> {
  const { runId, owner } = request;
  const run = await trx
    .selectFrom('runs')
    .select(['status', 'max_attempts'])
    .where('id', '=', runId)
    .executeTakeFirst();
  if (!run) return { kind: 'stopped', status: 'cancelled' };
  if (run.status !== 'running') return { kind: 'stopped', status: run.status };
  const clock = clockOf(trx, request.now);
  await expireLeases(trx, runId, run.max_attempts, clock, request);

  const picked = claimable(trx, request, clock).limit(request.limit).modifyEnd(dialectOf(trx).claimLock);
  const items = await trx
    .updateTable('work_items')
    .set({
      status: 'running',
      attempts: sql`attempts + 1`,
      lease_epoch: sql`lease_epoch + 1`,
      lease_owner: owner,
      lease_expires_at: sql`${clock} + ${request.leaseMs}`,
      started_at: new Date(request.now ?? Date.now()).toISOString(),
    })
    .where('id', 'in', picked)
    .returningAll()
    .execute();

  if (items.length === 0) return (await hasOpenItems(trx, runId)) ? { kind: 'wait' } : { kind: 'finished' };
  // RETURNING gives no order: the claim's order is (order_key, step_index).
  items.sort((a, b) => a.order_key - b.order_key || a.step_index - b.step_index);
  tally.add(runId, { claimed: items.length });
  return { kind: 'claimed', item: items[0]!, items };
}

/** The pending items of a run that can start now: their wait is over and the items they need are done. */
function claimable(db: Db, request: ClaimRequest, clock: RawBuilder<number>) {
  const waiting = Object.entries(request.needs).filter(([, needs]) => needs.length > 0);
  return db
    .selectFrom('work_items as w')
    .select('w.id')
    .where('w.run_id', '=', request.runId)
    .where('w.status', '=', 'pending')
    .where('w.not_before', '<=', clock)
    .where((eb) => {
      if (waiting.length === 0) return eb.lit(true);
      // An item whose step needs earlier steps' artifacts waits until those items are done.
      const blocked = waiting.map(([step, needs]) =>
        eb.and([
          eb('w.step', '=', step),
          eb.exists(
            eb
              .selectFrom('work_items as d')
              .select(sql`1`.as('one'))
              .whereRef('d.run_id', '=', 'w.run_id')
              .whereRef('d.asset_id', '=', 'w.asset_id')
              .where('d.step', 'in', needs)
              .where('d.status', '!=', 'done'),
          ),
        ]),
      );
      return eb.not(eb.or(blocked));
    })
    .orderBy('w.order_key')
    .orderBy('w.step_index');
}

/**
 * What an idle worker's claim would say, found with reads, or null when there may be something to take.
 * An idle worker polls, and on SQLite every write transaction holds the whole database's write lock: a
 * poller frozen inside one (a SIGSTOP) would stop every writer of the run, its coordinator's heartbeat
 * and the other workers' completions included, though it holds no item and no lease would ever lapse.
 */
async function nothingToClaim(db: Db, request: ClaimRequest): Promise<ClaimResult | null> {
  const run = await db.selectFrom('runs').select('status').where('id', '=', request.runId).executeTakeFirst();
  if (!run) return { kind: 'stopped', status: 'cancelled' };
  if (run.status !== 'running') return { kind: 'stopped', status: run.status };
  const clock = clockOf(db, request.now);
  if (await claimable(db, request, clock).limit(1).executeTakeFirst()) return null;
  const open = await db
    .selectFrom('work_items')
    .select('id')
    .where('run_id', '=', request.runId)
    .where('status', 'in', ['pending', 'running'])
    .limit(1)
    .executeTakeFirst();
  if (!open) return { kind: 'finished' };
  // A lease that ran out is settled by the claim's transaction: take it.
  const lapsed = await db
    .selectFrom('work_items')
    .select('id')
    .where('run_id', '=', request.runId)
    .where('status', '=', 'running')
    .where('lease_expires_at', '<', clock)
    .limit(1)
    .executeTakeFirst();
  return lapsed ? null : { kind: 'wait' };
}

/**
 * A lease that ran out (by the database's clock) means its worker stopped heartbeating: killed, frozen,
 * cut off. The item goes back to pending with a backoff, or fails once it used all its attempts.
 */
async function expireLeases(
  trx: Db,
  runId: string,
  maxAttempts: number,
  clock: RawBuilder<number>,
  request: ClaimRequest,
): Promise<void> {
  const expired = await trx
    .selectFrom('work_items')
    .select(['id', 'attempts', 'lease_owner', 'lease_epoch'])
    .where('run_id', '=', runId)
    .where('status', '=', 'running')
    .where('lease_expires_at', '<', clock)
    .modifyEnd(dialectOf(trx).claimLock)
    .execute();
  if (expired.length > 0) await dialectOf(trx).wakeUp(trx, formatHint({ kind: 'items', runId }));
  for (const item of expired) {
    const verdict = request.retryRule(item.attempts, maxAttempts, true);
    await trx
      .updateTable('work_items')
      .set({
        status: verdict.retry ? 'pending' : 'failed',
        lease_owner: null,
        lease_expires_at: null,
        not_before: verdict.retry ? sql`${clock} + ${verdict.backoffMs}` : 0,
        reason: 'worker-crashed',
        message: `lease expired: worker ${item.lease_owner ?? '?'} stopped heartbeating (attempt ${item.attempts} of ${maxAttempts})`,
        finished_at: verdict.retry ? null : new Date(request.now ?? Date.now()).toISOString(),
      })
      .where('id', '=', item.id)
      .where('lease_epoch', '=', item.lease_epoch)
      .where('status', '=', 'running')
      .execute();
  }
}
