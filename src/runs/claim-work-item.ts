import { sql } from 'kysely';
import type { Db } from '../store/database.js';
import { withWriteLock } from '../store/dialect.js';
import type { RunStatus, WorkItemRow } from '../store/schema.js';
import { backoffMs } from './lease.js';

export type ClaimResult =
  /** `item` is the first of `items`; a worker asks for several at once only while items are fast. */
  | { kind: 'claimed'; item: WorkItemRow; items: WorkItemRow[] }
  /** Items remain but none can start yet (backoff, or waiting for an earlier step). */
  | { kind: 'wait' }
  /** Nothing pending or running is left. */
  | { kind: 'finished' }
  /** The run is no longer `running` (cancelling, paused, ...): stop claiming. */
  | { kind: 'stopped'; status: RunStatus };

export interface ClaimOptions {
  runId: string;
  owner: string;
  leaseMs: number;
  /** step -> the earlier steps whose artifacts it needs. */
  needs: Readonly<Record<string, readonly string[]>>;
  now: number;
  /** How many items to claim at most (default 1). */
  limit?: number;
  /** Runs first inside the claim's transaction: the worker commits its finished items with its claim. */
  before?: (trx: Db) => Promise<void>;
}

/**
 * Claims the next item of a run, atomically: under the write lock, expired leases go back to pending,
 * then one pending item whose wait is over and whose inputs are done becomes `running` under our lease,
 * and its attempt is counted now, at claim time, so a worker that dies mid-item still used an attempt.
 */
export async function claimWorkItem(db: Db, options: ClaimOptions): Promise<ClaimResult> {
  const { runId, owner, leaseMs, now } = options;
  return withWriteLock(db, async (trx) => {
    await options.before?.(trx);
    const run = await trx
      .selectFrom('runs')
      .select(['status', 'max_attempts'])
      .where('id', '=', runId)
      .executeTakeFirst();
    if (!run) return { kind: 'stopped', status: 'cancelled' };
    if (run.status !== 'running') return { kind: 'stopped', status: run.status };

    await expireLeases(trx, runId, run.max_attempts, now);

    const waiting = Object.entries(options.needs).filter(([, needs]) => needs.length > 0);
    const found = await trx
      .selectFrom('work_items as w')
      .selectAll('w')
      .where('w.run_id', '=', runId)
      .where('w.status', '=', 'pending')
      .where('w.not_before', '<=', now)
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
      .orderBy('w.step_index')
      .limit(options.limit ?? 1)
      .execute();

    if (found.length === 0) {
      const open = await trx
        .selectFrom('work_items')
        .select('id')
        .where('run_id', '=', runId)
        .where('status', 'in', ['pending', 'running'])
        .limit(1)
        .executeTakeFirst();
      return open ? { kind: 'wait' } : { kind: 'finished' };
    }

    const startedAt = new Date(now).toISOString();
    await trx
      .updateTable('work_items')
      .set({
        status: 'running',
        attempts: sql`attempts + 1`,
        lease_owner: owner,
        lease_expires_at: now + leaseMs,
        started_at: startedAt,
      })
      .where(
        'id',
        'in',
        found.map((item) => item.id),
      )
      .execute();
    const items = found.map((item) => ({
      ...item,
      status: 'running' as const,
      attempts: item.attempts + 1,
      lease_owner: owner,
      lease_expires_at: now + leaseMs,
      started_at: startedAt,
    }));
    return { kind: 'claimed', item: items[0]!, items };
  });
}

/**
 * A lease that ran out means its worker stopped heartbeating (killed, frozen, machine gone): the item goes
 * back to pending with a backoff, or is failed once it has used all its attempts.
 */
async function expireLeases(trx: Db, runId: string, maxAttempts: number, now: number): Promise<void> {
  const expired = await trx
    .selectFrom('work_items')
    .select(['id', 'attempts', 'lease_owner'])
    .where('run_id', '=', runId)
    .where('status', '=', 'running')
    .where('lease_expires_at', '<', now)
    .execute();
  for (const item of expired) {
    const exhausted = item.attempts >= maxAttempts;
    await trx
      .updateTable('work_items')
      .set({
        status: exhausted ? 'failed' : 'pending',
        lease_owner: null,
        lease_expires_at: null,
        not_before: exhausted ? 0 : now + backoffMs(item.attempts),
        reason: 'worker-crashed',
        message: `lease expired: worker ${item.lease_owner ?? '?'} stopped heartbeating (attempt ${item.attempts} of ${maxAttempts})`,
        finished_at: exhausted ? new Date(now).toISOString() : null,
      })
      .where('id', '=', item.id)
      .execute();
  }
}
