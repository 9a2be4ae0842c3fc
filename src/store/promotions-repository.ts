import type { Insertable } from 'kysely';
import type { Db } from './database.js';
import { makeCurrentAll, PROMOTED } from './artifacts-repository.js';
import type { NewRun } from './runs-repository.js';
import type { ItemStatus, WorkItemsTable } from './schema.js';

/**
 * `run promote`: a sandbox run's results kept as a production run's, without computing them again. The
 * artifacts keep their lineage (the sandbox run is what really made them); the production run's items
 * name them with reason `promoted`, which is how an artifact shows who kept it (artifacts-repository.ts).
 */

/** A sandbox run's item with what its artifact is now: gc may have taken an expired one. */
export interface PromotableItem {
  asset_id: string;
  step: string;
  step_index: number;
  order_key: number;
  status: ItemStatus;
  reason: string | null;
  message: string | null;
  artifact_id: string | null;
  artifact_kind: string | null;
  artifact_path: string | null;
  artifact_size: number | null;
  artifact_expires_at: string | null;
}

export async function promotableItems(db: Db, runId: string): Promise<PromotableItem[]> {
  return db
    .selectFrom('work_items as w')
    .leftJoin('artifacts as a', 'a.id', 'w.artifact_id')
    .select([
      'w.asset_id',
      'w.step',
      'w.step_index',
      'w.order_key',
      'w.status',
      'w.reason',
      'w.message',
      'a.id as artifact_id',
      'a.kind as artifact_kind',
      'a.path as artifact_path',
      'a.size as artifact_size',
      'a.expires_at as artifact_expires_at',
    ])
    .where('w.run_id', '=', runId)
    .orderBy('w.id')
    .execute();
}

export interface PromotedItem {
  asset_id: string;
  step: string;
  step_index: number;
  order_key: number;
  status: 'done' | 'skipped';
  reason: string | null;
  message: string | null;
  artifact_id: string | null;
  /** What the artifact becomes current as, for done items with an artifact. */
  kind: string | null;
}

/**
 * Writes the production run (finished at once) and its items, keeps the artifacts (production policy, no
 * expiry) and makes them their assets' current ones, in one transaction: a promotion happens whole or not
 * at all. An artifact that gc removed since it was looked at is not there to keep, and the transaction
 * fails rather than record a run that names a missing artifact.
 */
export async function insertPromotedRun(
  db: Db,
  run: NewRun & { status_reason: string; started_at: string; finished_at: string },
  items: readonly PromotedItem[],
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('runs')
      .values({ ...run, status: 'completed' })
      .execute();
    const rows: Insertable<WorkItemsTable>[] = items.map((item) => ({
      run_id: run.id,
      asset_id: item.asset_id,
      step: item.step,
      step_index: item.step_index,
      order_key: item.order_key,
      status: item.status,
      attempts: 0,
      reason: item.artifact_id ? PROMOTED : item.reason,
      message: item.artifact_id ? `kept from sandbox run ${run.parent_run_id}` : item.message,
      artifact_id: item.artifact_id,
      reused: item.artifact_id ? 1 : 0,
      started_at: run.started_at,
      finished_at: run.finished_at,
      duration_ms: 0,
    }));
    for (let i = 0; i < rows.length; i += 400) {
      await trx
        .insertInto('work_items')
        .values(rows.slice(i, i + 400))
        .execute();
    }
    const kept = items.filter((item) => item.artifact_id !== null);
    for (let i = 0; i < kept.length; i += 400) {
      const ids = [...new Set(kept.slice(i, i + 400).map((item) => item.artifact_id!))];
      const updated = await trx
        .updateTable('artifacts')
        .set({ policy: 'production', expires_at: null })
        .where('id', 'in', ids)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) !== ids.length) {
        throw new Error('an artifact to promote was removed meanwhile (gc); nothing was promoted');
      }
    }
    await makeCurrentAll(
      trx,
      kept.map((item) => ({ artifactId: item.artifact_id!, assetId: item.asset_id, kind: item.kind! })),
    );
  });
}
