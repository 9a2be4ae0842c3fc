import type { Db } from '../database.js';
import { dialectOf } from '../dialect.js';
import type { WorkItemRow } from '../schema.js';

/** The artifacts of earlier steps an item needs, as the run made them for its asset. */
export async function inputsOfItem(
  db: Db,
  item: Pick<WorkItemRow, 'run_id' | 'asset_id'>,
  steps: readonly string[],
): Promise<{ step: string; id: string; path: string; sha256: string }[]> {
  if (steps.length === 0) return [];
  return db
    .selectFrom('work_items')
    .innerJoin('artifacts', 'artifacts.id', 'work_items.artifact_id')
    .select(['work_items.step', 'artifacts.id', 'artifacts.path', 'artifacts.sha256'])
    .where('work_items.run_id', '=', item.run_id)
    .where('work_items.asset_id', '=', item.asset_id)
    .where('work_items.step', 'in', steps)
    .execute();
}

export async function attemptsOf(db: Db, itemId: number): Promise<number | undefined> {
  const row = await db
    .selectFrom('work_items')
    .select('attempts')
    .where('id', '=', itemId)
    .executeTakeFirst();
  return row?.attempts;
}

export async function getWorkItem(db: Db, itemId: number): Promise<WorkItemRow | undefined> {
  return db.selectFrom('work_items').selectAll().where('id', '=', itemId).executeTakeFirst();
}

/** `run resume --include-failed`: failed items (and those skipped for want of them) start over. */
export async function reopenFailedItems(db: Db, runId: string): Promise<void> {
  await db
    .updateTable('work_items')
    .set({ status: 'pending', attempts: 0, not_before: 0, finished_at: null })
    .where('run_id', '=', runId)
    .where((eb) =>
      eb.or([
        eb('status', '=', 'failed'),
        eb.and([eb('status', '=', 'skipped'), eb('reason', '=', 'input-unavailable')]),
      ]),
    )
    .execute();
}

/** Durations of the items done by real work (not reused): the run's timing figures. */
export async function workDurations(db: Db, runId: string): Promise<{ step: string; durationMs: number }[]> {
  const rows = await db
    .selectFrom('work_items')
    .select(['step', 'duration_ms'])
    .where('run_id', '=', runId)
    .where('status', '=', 'done')
    .where('reused', '=', 0)
    .where('duration_ms', 'is not', null)
    .execute();
  return rows.map((row) => ({ step: row.step, durationMs: Number(row.duration_ms) }));
}

/** Whether some item of the run is held under a lease that has not run out (by the database's clock). */
export async function hasLiveLeases(db: Db, runId: string): Promise<boolean> {
  const row = await db
    .selectFrom('work_items')
    .select('id')
    .where('run_id', '=', runId)
    .where('status', '=', 'running')
    .where('lease_expires_at', '>', dialectOf(db).nowMs())
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}
