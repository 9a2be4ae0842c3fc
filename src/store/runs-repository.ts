import { sql, type Insertable } from 'kysely';
import { ArchivistError } from '../errors.js';
import type { Db } from './database.js';
import { dialectOf, startsWith } from './dialect.js';
import { formatHint } from './wake-ups.js';
import type { RunRow, RunsTable, RunStatus, WorkItemsTable } from './schema.js';

/** A run by id or unambiguous id prefix (`r-k7m` or just `k7m`). */
export async function findRun(db: Db, ref: string): Promise<RunRow> {
  const prefix = ref.startsWith('r-') ? ref : `r-${ref}`;
  const rows = await db
    .selectFrom('runs')
    .selectAll()
    .where(startsWith(sql.ref('id'), prefix))
    .limit(6)
    .execute();
  const exact = rows.find((row) => row.id === prefix);
  if (exact) return exact;
  if (rows.length === 1) return rows[0]!;
  if (rows.length > 1) {
    throw new ArchivistError('usage', `the run prefix ${ref} matches several runs`, {
      hint: `Give more characters: ${rows.map((r) => r.id).join(', ')}`,
    });
  }
  throw new ArchivistError('not-found', `there is no run ${ref}`, { hint: 'See `archivist run list`.' });
}

export async function listRuns(db: Db, limit = 100): Promise<RunRow[]> {
  return db.selectFrom('runs').selectAll().orderBy('created_at', 'desc').limit(limit).execute();
}

export async function getRun(db: Db, id: string): Promise<RunRow> {
  return db.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

/**
 * Changes a run's status only from one of `from`: a transition is a compare-and-set, so two processes
 * racing (a cancel and a completion) cannot both win, and `completed` is never left.
 */
export async function transitionRun(
  db: Db,
  id: string,
  from: readonly RunStatus[],
  to: RunStatus,
  extra: {
    status_reason?: string | null;
    finished_at?: string | null;
    stats_json?: string | null;
    coordinator_pid?: number | null;
  } = {},
): Promise<boolean> {
  const result = await db
    .updateTable('runs')
    .set({ status: to, ...extra })
    .where('id', '=', id)
    .where('status', 'in', from)
    .executeTakeFirst();
  const changed = Number(result.numUpdatedRows) > 0;
  // Workers on other hosts hear of a cancel or a pause at once instead of at their next poll.
  if (changed) await dialectOf(db).wakeUp(db, formatHint({ kind: 'run', runId: id, status: to }));
  return changed;
}

/** Runs that may still change: queued, running or cancelling. */
export async function activeRunIds(db: Db): Promise<string[]> {
  const rows = await db
    .selectFrom('runs')
    .select('id')
    .where('status', 'in', ['queued', 'running', 'cancelling'])
    .orderBy('created_at', 'desc')
    .execute();
  return rows.map((row) => row.id);
}

export async function setRunMinFree(
  db: Db,
  id: string,
  minFree: { bytes: number; spec: string },
): Promise<void> {
  await db
    .updateTable('runs')
    .set({ min_free_bytes: minFree.bytes, min_free_spec: minFree.spec })
    .where('id', '=', id)
    .execute();
}

export async function runExists(db: Db, id: string): Promise<boolean> {
  return (await db.selectFrom('runs').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
}

export interface NewRun extends Omit<Insertable<RunsTable>, 'status' | 'status_reason'> {
  id: string;
}

/**
 * Writes a run and its frozen scope (its work items) in one transaction: a run is either fully planned
 * or not there at all. Later catalog changes cannot change this list.
 */
export async function insertRun(
  db: Db,
  run: NewRun,
  items: readonly Omit<Insertable<WorkItemsTable>, 'run_id'>[],
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('runs')
      .values({ ...run, status: 'queued', status_reason: null })
      .execute();
    for (let i = 0; i < items.length; i += 400) {
      await trx
        .insertInto('work_items')
        .values(items.slice(i, i + 400).map((item) => ({ ...item, run_id: run.id })))
        .execute();
    }
  });
  // The statistics from before know nothing of this run: measured on PostgreSQL with a 400,000-item run
  // just made, its lease-expiry scan took another index and read the run's every entry (2.1 ms a claim
  // against 0.2 ms once analyzed). A fifth of a second, once, for a large run.
  if (items.length >= ANALYZE_AFTER_ITEMS) await dialectOf(db).analyze(db, 'work_items');
}

/** A run at least this large brings the planner's statistics of work_items up to date. */
const ANALYZE_AFTER_ITEMS = 10_000;
