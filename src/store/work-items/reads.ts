import type { Db } from '../database.js';
import { dialectOf } from '../dialect.js';
import { clockOf } from './lease.js';
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

/** Whether any item of the run is still pending or running (one indexed row at most). */
export async function hasOpenItems(db: Db, runId: string): Promise<boolean> {
  const open = await db
    .selectFrom('work_items')
    .select('id')
    .where('run_id', '=', runId)
    .where('status', 'in', ['pending', 'running'])
    .limit(1)
    .executeTakeFirst();
  return open !== undefined;
}

/**
 * The workers holding an item of the run whose lease lapsed by the database's clock: they stopped
 * heartbeating (frozen by SIGSTOP, blocked, cut off) and are to be replaced now.
 */
export async function ownersOfLapsedLeases(db: Db, runId: string, now?: number): Promise<Set<string>> {
  const rows = await db
    .selectFrom('work_items')
    .select('lease_owner')
    .distinct()
    .where('run_id', '=', runId)
    .where('status', '=', 'running')
    .where('lease_expires_at', '<', clockOf(db, now))
    .execute();
  return new Set(rows.map((row) => row.lease_owner).filter((owner): owner is string => owner !== null));
}
