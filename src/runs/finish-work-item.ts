import type { Kysely } from 'kysely';
import { makeCurrent, recordArtifact, type Lineage, type NewArtifact } from '../artifacts/record-artifact.js';
import type { Db } from '../store/database.js';
import { withWriteLock } from '../store/dialect.js';
import type { Database, WorkItemRow } from '../store/schema.js';
import { backoffMs } from './lease.js';

type Trx = Kysely<Database>;

/** Still ours? A worker whose lease expired must not overwrite what the item's new owner does. */
async function stillLeased(trx: Trx, itemId: number, owner: string): Promise<boolean> {
  const row = await trx
    .selectFrom('work_items')
    .select(['status', 'lease_owner'])
    .where('id', '=', itemId)
    .executeTakeFirst();
  return row?.status === 'running' && row.lease_owner === owner;
}

export interface DoneResult {
  durationMs: number;
  /** A new artifact with its lineage, or an existing one found by cache key (reused), or none. */
  artifact: { created: NewArtifact; lineage: Lineage } | { reusedId: string } | null;
  makeCurrent: { assetId: string; kind: string } | null;
}

/**
 * Marks an item done. The artifact row, its lineage and the item's `done` are one transaction, committed
 * only after the artifact file was renamed into the store (the caller's job), so a crash at any point
 * leaves either nothing or everything.
 */
export async function completeWorkItem(
  db: Db,
  item: WorkItemRow,
  owner: string,
  result: DoneResult,
): Promise<boolean> {
  const [ok] = await completeWorkItems(db, owner, [{ item, result }]);
  return ok!;
}

/**
 * Marks several items done in one transaction (a worker's batch of quick items): each one only if its
 * lease is still ours. Returns, per item, whether it was recorded.
 */
export async function completeWorkItems(
  db: Db,
  owner: string,
  entries: readonly { item: WorkItemRow; result: DoneResult }[],
): Promise<boolean[]> {
  if (entries.length === 0) return [];
  return withWriteLock(db, (trx) => recordCompletions(trx, owner, entries));
}

/** `completeWorkItems` inside a transaction the caller holds (a worker's next claim). */
export async function recordCompletions(
  trx: Trx,
  owner: string,
  entries: readonly { item: WorkItemRow; result: DoneResult }[],
): Promise<boolean[]> {
  const recorded: boolean[] = [];
  for (const { item, result } of entries) {
    if (!(await stillLeased(trx, item.id, owner))) {
      recorded.push(false);
      continue;
    }
    let artifactId: string | null = null;
    let reused = 0;
    if (result.artifact && 'created' in result.artifact) {
      await recordArtifact(trx, result.artifact.created, result.artifact.lineage);
      artifactId = result.artifact.created.id;
    } else if (result.artifact) {
      artifactId = result.artifact.reusedId;
      reused = 1;
    }
    if (artifactId && result.makeCurrent) {
      await makeCurrent(trx, artifactId, result.makeCurrent.assetId, result.makeCurrent.kind);
    }
    await trx
      .updateTable('work_items')
      .set({
        status: 'done',
        artifact_id: artifactId,
        reused,
        lease_owner: null,
        lease_expires_at: null,
        finished_at: new Date().toISOString(),
        duration_ms: result.durationMs,
        reason: null,
        message: null,
      })
      .where('id', '=', item.id)
      .execute();
    recorded.push(true);
  }
  return recorded;
}

export interface FailureRecord {
  reason: string;
  message: string;
  stderrTail?: string | null;
  retryable: boolean;
  durationMs?: number | null;
}

/**
 * Records a failed attempt: retryable reasons go back to pending after a backoff until the attempts are
 * used up; then (or at once for a non-retryable reason) the item is `failed` and the run goes on.
 * `owner` null means the caller already knows the worker is gone (the coordinator saw it die).
 */
export async function failWorkItem(
  db: Db,
  itemId: number,
  owner: string | null,
  failure: FailureRecord,
  now: number = Date.now(),
): Promise<'retrying' | 'failed' | 'lost'> {
  return withWriteLock(db, async (trx) => {
    const item = await trx
      .selectFrom('work_items')
      .innerJoin('runs', 'runs.id', 'work_items.run_id')
      .select([
        'work_items.status',
        'work_items.lease_owner',
        'work_items.attempts',
        'runs.max_attempts',
        'work_items.run_id',
        'work_items.asset_id',
        'work_items.step',
      ])
      .where('work_items.id', '=', itemId)
      .executeTakeFirst();
    if (!item || item.status !== 'running' || (owner !== null && item.lease_owner !== owner)) return 'lost';
    const exhausted = !failure.retryable || item.attempts >= item.max_attempts;
    await trx
      .updateTable('work_items')
      .set({
        status: exhausted ? 'failed' : 'pending',
        lease_owner: null,
        lease_expires_at: null,
        not_before: exhausted ? 0 : now + backoffMs(item.attempts),
        reason: failure.reason,
        message: failure.message,
        stderr_tail: failure.stderrTail ?? null,
        duration_ms: failure.durationMs ?? null,
        finished_at: exhausted ? new Date(now).toISOString() : null,
      })
      .where('id', '=', itemId)
      .execute();
    return exhausted ? 'failed' : 'retrying';
  });
}

/** A step decided the asset is not for it (e.g. no video stream): `skipped`, with why. */
export async function skipWorkItem(
  db: Db,
  item: WorkItemRow,
  owner: string,
  reason: string,
  message: string,
): Promise<boolean> {
  return withWriteLock(db, async (trx) => {
    if (!(await stillLeased(trx, item.id, owner))) return false;
    await trx
      .updateTable('work_items')
      .set({
        status: 'skipped',
        reason,
        message,
        lease_owner: null,
        lease_expires_at: null,
        finished_at: new Date().toISOString(),
      })
      .where('id', '=', item.id)
      .execute();
    return true;
  });
}

/**
 * Gives an item back without counting the attempt against it: the run was cancelled or paused, or its
 * coordinator vanished; the file did nothing wrong.
 */
export async function releaseWorkItems(
  db: Db,
  where: { runId: string; owner?: string; itemId?: number; itemIds?: readonly number[] },
): Promise<number> {
  return withWriteLock(db, async (trx) => {
    let query = trx
      .updateTable('work_items')
      .set((eb) => ({
        status: 'pending',
        lease_owner: null,
        lease_expires_at: null,
        attempts: eb
          .case()
          .when('attempts', '>', 0)
          .then(eb('attempts', '-', 1))
          .else(0)
          .end(),
      }))
      .where('run_id', '=', where.runId)
      .where('status', '=', 'running');
    if (where.owner) query = query.where('lease_owner', '=', where.owner);
    if (where.itemId !== undefined) query = query.where('id', '=', where.itemId);
    if (where.itemIds !== undefined)
      query = query.where('id', 'in', where.itemIds.length > 0 ? where.itemIds : [-1]);
    const result = await query.executeTakeFirst();
    return Number(result.numUpdatedRows);
  });
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
