import { sql, type Insertable } from 'kysely';
import { ArchivistError } from '../errors.js';
import type { Db } from './database.js';
import { dialectOf, startsWith } from './dialect.js';
import { formatHint } from './wake-ups.js';
import type {
  ItemStatus,
  MediaType,
  RunRow,
  RunsTable,
  RunStatus,
  WorkItemRow,
  WorkItemsTable,
} from './schema.js';

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

export interface StepCounts {
  total: number;
  pending: number;
  running: number;
  done: number;
  failed: number;
  skipped: number;
  reused: number;
}

export function emptyCounts(): StepCounts {
  return { total: 0, pending: 0, running: 0, done: 0, failed: 0, skipped: 0, reused: 0 };
}

/** Coverage of a run: counts per step and in total. */
export async function runCoverage(
  db: Db,
  runId: string,
): Promise<{ total: StepCounts; steps: Record<string, StepCounts> }> {
  const rows = await db
    .selectFrom('work_items')
    .select([
      'step',
      'step_index',
      'status',
      (eb) => eb.fn.countAll<number>().as('n'),
      (eb) => eb.fn.sum<number>('reused').as('reused'),
    ])
    .where('run_id', '=', runId)
    .groupBy(['step', 'step_index', 'status'])
    .orderBy('step_index')
    .execute();
  const total = emptyCounts();
  const steps: Record<string, StepCounts> = {};
  for (const row of rows) {
    const counts = (steps[row.step] ??= emptyCounts());
    const n = Number(row.n);
    counts[row.status] += n;
    counts.total += n;
    counts.reused += Number(row.reused ?? 0);
    total[row.status] += n;
    total.total += n;
    total.reused += Number(row.reused ?? 0);
  }
  return { total, steps };
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

export interface AssetWorkItem {
  runId: string;
  pipeline: string;
  runStatus: RunStatus;
  step: string;
  status: WorkItemRow['status'];
  attempts: number;
  reason: string | null;
  message: string | null;
  stderrTail: string | null;
  artifactId: string | null;
  reused: boolean;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
}

/** What every run did with one asset, newest run first: "what happened to this file?". */
export async function workItemsOfAsset(db: Db, assetId: string, limit = 200): Promise<AssetWorkItem[]> {
  const rows = await db
    .selectFrom('work_items as w')
    .innerJoin('runs as r', 'r.id', 'w.run_id')
    .select([
      'w.run_id',
      'r.pipeline_name',
      'r.pipeline_version',
      'r.status as run_status',
      'w.step',
      'w.status',
      'w.attempts',
      'w.reason',
      'w.message',
      'w.stderr_tail',
      'w.artifact_id',
      'w.reused',
      'w.started_at',
      'w.finished_at',
      'w.duration_ms',
    ])
    .where('w.asset_id', '=', assetId)
    .orderBy('r.created_at', 'desc')
    .orderBy('w.step_index')
    .limit(limit)
    .execute();
  return rows.map((row) => ({
    runId: row.run_id,
    pipeline: `${row.pipeline_name}@${row.pipeline_version}`,
    runStatus: row.run_status,
    step: row.step,
    status: row.status,
    attempts: row.attempts,
    reason: row.reason,
    message: row.message,
    stderrTail: row.stderr_tail,
    artifactId: row.artifact_id,
    reused: row.reused === 1,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    durationMs: row.duration_ms,
  }));
}

/** One item's outcome: what `run compare` needs to compare two runs on the assets they share. */
export interface ItemOutcome {
  assetId: string;
  step: string;
  status: WorkItemRow['status'];
  /** The content hash of the item's artifact (made or reused), null when it has none. */
  sha256?: string | null;
}

export async function itemOutcomesOfRun(db: Db, runId: string): Promise<ItemOutcome[]> {
  return db
    .selectFrom('work_items')
    .leftJoin('artifacts', 'artifacts.id', 'work_items.artifact_id')
    .select(['work_items.asset_id as assetId', 'work_items.step', 'work_items.status', 'artifacts.sha256'])
    .where('work_items.run_id', '=', runId)
    .execute();
}
/**
 * A coordinator takes a run that waits for one (`queued`): status `running`, its pid and host, a first
 * heartbeat. A cancel that came first (the coordinator may take seconds to start) made it `cancelled`,
 * which must hold: false then.
 */
export async function takeRun(
  db: Db,
  id: string,
  coordinator: { pid: number; host: string; workers: number },
): Promise<boolean> {
  const taken = await db
    .updateTable('runs')
    .set((eb) => ({
      status: 'running',
      status_reason: null,
      coordinator_pid: coordinator.pid,
      coordinator_host: coordinator.host,
      heartbeat_at: Date.now(),
      workers: coordinator.workers,
      started_at: eb.fn.coalesce('started_at', eb.val(new Date().toISOString())),
    }))
    .where('id', '=', id)
    .where('status', '=', 'queued')
    .executeTakeFirst();
  const ok = Number(taken.numUpdatedRows) > 0;
  // Idle workers (`archivist worker --all`) join a run as soon as it starts.
  if (ok) await dialectOf(db).wakeUp(db, formatHint({ kind: 'run', runId: id, status: 'running' }));
  return ok;
}

/** The coordinator's heartbeat; answers the run's status as it is now. */
export async function beatRun(db: Db, id: string): Promise<RunStatus> {
  await db.updateTable('runs').set({ heartbeat_at: Date.now() }).where('id', '=', id).execute();
  const row = await db.selectFrom('runs').select('status').where('id', '=', id).executeTakeFirstOrThrow();
  return row.status;
}

/** The figures of a run that stopped; its coordinator's heartbeat ends with it. */
export async function saveRunStats(db: Db, id: string, statsJson: string): Promise<void> {
  await db
    .updateTable('runs')
    .set({ stats_json: statsJson, heartbeat_at: null })
    .where('id', '=', id)
    .execute();
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

/**
 * Runs that claim to be worked on, and queued runs a coordinator was launched for: whether their
 * coordinator is still there is for the caller to judge.
 */
export async function runsInProgress(db: Db) {
  return db
    .selectFrom('runs')
    .select(['id', 'status', 'coordinator_pid', 'coordinator_host', 'heartbeat_at'])
    .where((eb) =>
      eb.or([
        eb('status', 'in', ['running', 'cancelling']),
        eb.and([eb('status', '=', 'queued'), eb('coordinator_pid', 'is not', null)]),
      ]),
    )
    .execute();
}

/**
 * A background coordinator was started for a queued run: its pid and host are recorded before it takes
 * the run, so one that dies on the way (killed, out of memory, a broken install) leaves an `interrupted`
 * run, not one `queued` for ever.
 */
export async function noteCoordinatorLaunched(
  db: Db,
  id: string,
  coordinator: { pid: number; host: string },
): Promise<void> {
  await db
    .updateTable('runs')
    .set({ coordinator_pid: coordinator.pid, coordinator_host: coordinator.host })
    .where('id', '=', id)
    .where('status', '=', 'queued')
    .execute();
}

/** The assets of a run (or only those with a failed item), in the run's order: what a retry covers. */
export async function assetsOfRun(
  db: Db,
  runId: string,
  failedOnly: boolean,
): Promise<{ id: string; mediaType: MediaType }[]> {
  let query = db
    .selectFrom('work_items')
    .innerJoin('assets', 'assets.id', 'work_items.asset_id')
    .select(['assets.id', 'assets.media_type', (eb) => eb.fn.min('work_items.order_key').as('order')])
    .where('work_items.run_id', '=', runId)
    .groupBy(['assets.id', 'assets.media_type'])
    .orderBy('order');
  if (failedOnly) query = query.where('work_items.status', '=', 'failed');
  return (await query.execute()).map((row) => ({ id: row.id, mediaType: row.media_type }));
}

/** Assets with an item of this status in a run (a collection's `fromRun` filter). */
export async function assetIdsOfRunWithStatus(
  db: Db,
  runId: string,
  status: ItemStatus,
): Promise<Set<string>> {
  const rows = await db
    .selectFrom('work_items')
    .select('asset_id')
    .distinct()
    .where('run_id', '=', runId)
    .where('status', '=', status)
    .execute();
  return new Set(rows.map((row) => row.asset_id));
}

export interface FailedItem {
  id: number;
  asset_id: string;
  step: string;
  attempts: number;
  reason: string | null;
  message: string | null;
  stderr_tail: string | null;
  path: string | null;
}

/** A run's failed items, by reason, each with the first location a person would recognise the file by. */
export async function failedItemsOfRun(db: Db, runId: string, limit?: number): Promise<FailedItem[]> {
  let query = db
    .selectFrom('work_items as w')
    .select([
      'w.id',
      'w.asset_id',
      'w.step',
      'w.attempts',
      'w.reason',
      'w.message',
      'w.stderr_tail',
      sql<string | null>`(select s.name || ':' || l.path from locations l join sources s on s.id = l.source_id
        where l.asset_id = w.asset_id order by l.status = 'missing', s.name, l.path limit 1)`.as('path'),
    ])
    .where('w.run_id', '=', runId)
    .where('w.status', '=', 'failed')
    .orderBy('w.reason')
    .orderBy('path');
  if (limit !== undefined) query = query.limit(limit);
  return query.execute();
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
}

/** One more worker death seen by a coordinator of this run; the count spans every session of the run. */
export async function countWorkerCrash(db: Db, id: string): Promise<void> {
  await db
    .updateTable('runs')
    .set({ worker_crashes: sql`worker_crashes + 1` })
    .where('id', '=', id)
    .execute();
}
