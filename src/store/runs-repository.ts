import { sql } from 'kysely';
import { ArchivistError } from '../errors.js';
import type { Db } from './database.js';
import { startsWith } from './dialect.js';
import type { RunRow, RunStatus, WorkItemRow } from './schema.js';

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
  extra: { status_reason?: string | null; finished_at?: string | null; stats_json?: string | null } = {},
): Promise<boolean> {
  const result = await db
    .updateTable('runs')
    .set({ status: to, ...extra })
    .where('id', '=', id)
    .where('status', 'in', from)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
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
}

export async function itemOutcomesOfRun(db: Db, runId: string): Promise<ItemOutcome[]> {
  return db
    .selectFrom('work_items')
    .select(['asset_id as assetId', 'step', 'status'])
    .where('run_id', '=', runId)
    .execute();
}
