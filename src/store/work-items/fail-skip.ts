import { sql } from 'kysely';
import type { Db } from '../database.js';
import { withWriteLock } from '../dialect.js';
import { countForWorker } from '../run-workers-repository.js';
import { clockOf, type Lease, type RetryRule } from './lease.js';

export interface FailureRecord {
  reason: string;
  message: string;
  stderrTail?: string | null;
  retryable: boolean;
  durationMs?: number | null;
}

/**
 * Records a failed attempt: by the retry rule the item goes back to pending after a backoff, or is
 * `failed` and the run goes on. `lease` null means the caller already knows its worker is gone (the
 * coordinator saw it die); `worker` is then whom to count it for.
 */
export async function failItem(
  db: Db,
  itemId: number,
  lease: Lease | null,
  failure: FailureRecord & { worker?: string },
  retryRule: RetryRule,
  now?: number,
): Promise<'retrying' | 'failed' | 'lost'> {
  return withWriteLock(db, async (trx) => {
    const item = await trx
      .selectFrom('work_items')
      .innerJoin('runs', 'runs.id', 'work_items.run_id')
      .select([
        'work_items.status',
        'work_items.lease_owner',
        'work_items.lease_epoch',
        'work_items.attempts',
        'work_items.run_id',
        'runs.max_attempts',
      ])
      .where('work_items.id', '=', itemId)
      .executeTakeFirst();
    if (!item || item.status !== 'running') return 'lost';
    if (lease && (item.lease_owner !== lease.owner || item.lease_epoch !== lease.epoch)) return 'lost';
    const verdict = retryRule(item.attempts, item.max_attempts, failure.retryable);
    const clock = clockOf(trx, now);
    await trx
      .updateTable('work_items')
      .set({
        status: verdict.retry ? 'pending' : 'failed',
        lease_owner: null,
        lease_expires_at: null,
        not_before: verdict.retry ? sql`${clock} + ${verdict.backoffMs}` : 0,
        reason: failure.reason,
        message: failure.message,
        stderr_tail: failure.stderrTail ?? null,
        duration_ms: failure.durationMs ?? null,
        finished_at: verdict.retry ? null : new Date(now ?? Date.now()).toISOString(),
      })
      .where('id', '=', itemId)
      .where('lease_epoch', '=', item.lease_epoch)
      .execute();
    const worker = lease?.owner ?? failure.worker;
    if (worker) await countForWorker(trx, item.run_id, worker, { failed: 1 }, clock);
    return verdict.retry ? 'retrying' : 'failed';
  });
}

/** A step decided the asset is not for it (e.g. no video stream): `skipped`, with why; fenced. */
export async function skipItem(db: Db, lease: Lease, reason: string, message: string): Promise<boolean> {
  const runId = await markSkipped(db, lease, reason, message);
  // In the worker's figures (claimed = finished + released + lost). A statement of its own, not one
  // transaction with the skip: the caller may be inside the worker's batch transaction already.
  if (runId) await countForWorker(db, runId, lease.owner, { skipped: 1 }, clockOf(db, undefined));
  return runId !== null;
}

/** The item's run when the fenced update took; null when the lease was lost. */
async function markSkipped(db: Db, lease: Lease, reason: string, message: string): Promise<string | null> {
  const row = await db
    .updateTable('work_items')
    .set({
      status: 'skipped',
      reason,
      message,
      lease_owner: null,
      lease_expires_at: null,
      finished_at: new Date().toISOString(),
    })
    .where('id', '=', lease.id)
    .where('lease_owner', '=', lease.owner)
    .where('lease_epoch', '=', lease.epoch)
    .where('status', '=', 'running')
    .returning('run_id')
    .executeTakeFirst();
  return row?.run_id ?? null;
}

/**
 * Items whose inputs can never arrive (the earlier step failed or was skipped) are skipped with the
 * reason, so coverage adds up and the run can complete.
 */
export async function skipOrphanedDependents(
  db: Db,
  runId: string,
  needs: Readonly<Record<string, readonly string[]>>,
): Promise<number> {
  let skipped = 0;
  for (const [step, required] of Object.entries(needs)) {
    if (required.length === 0) continue;
    const result = await db
      .updateTable('work_items as w')
      .set({
        status: 'skipped',
        reason: 'input-unavailable',
        message: `needs ${required.join(', ')}, which did not succeed`,
      })
      .where('w.run_id', '=', runId)
      .where('w.step', '=', step)
      .where('w.status', '=', 'pending')
      .where((eb) =>
        eb.exists(
          eb
            .selectFrom('work_items as d')
            .select('d.id')
            .whereRef('d.run_id', '=', 'w.run_id')
            .whereRef('d.asset_id', '=', 'w.asset_id')
            .where('d.step', 'in', required)
            .where('d.status', 'in', ['failed', 'skipped']),
        ),
      )
      .executeTakeFirst();
    skipped += Number(result.numUpdatedRows);
  }
  return skipped;
}
