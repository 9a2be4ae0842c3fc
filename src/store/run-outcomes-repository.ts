import { sql } from 'kysely';
import type { Db } from './database.js';
import type { ItemStatus, MediaType, RunStatus, WorkItemRow } from './schema.js';

/** What a run did with its items, read for people: coverage, an asset's history, failures, what a retry covers. */

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
