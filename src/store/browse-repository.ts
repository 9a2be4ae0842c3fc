import { sql } from 'kysely';
import type { Db } from './database.js';

/**
 * What the web UI's grid and live run page read beyond the listings themselves (listing-repository.ts):
 * the failure behind a tile, and how many items are in a worker's hands right now.
 */

export interface TileFailure {
  runId: string;
  step: string;
  reason: string | null;
  message: string | null;
  attempts: number;
}

/**
 * Per asset, the failure a tile shows: a step whose latest work item (of any run) failed. A later run
 * that did the step clears it; an asset that no run has touched has none (it is "not processed yet").
 */
export async function latestFailures(db: Db, assetIds: readonly string[]): Promise<Map<string, TileFailure>> {
  const result = new Map<string, TileFailure>();
  for (let i = 0; i < assetIds.length; i += 500) {
    const rows = await db
      .selectFrom('work_items')
      .select(['id', 'asset_id', 'run_id', 'step', 'status', 'reason', 'message', 'attempts'])
      .where('asset_id', 'in', assetIds.slice(i, i + 500))
      .where('status', 'in', ['done', 'failed', 'skipped'])
      .orderBy('id', 'desc') // ids grow with runs: the first row of a (asset, step) is its latest
      .execute();
    const seen = new Set<string>();
    for (const row of rows) {
      const key = `${row.asset_id}\u0000${row.step}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (row.status !== 'failed' || result.has(row.asset_id)) continue;
      result.set(row.asset_id, {
        runId: row.run_id,
        step: row.step,
        reason: row.reason,
        message: row.message,
        attempts: row.attempts,
      });
    }
  }
  return result;
}

/**
 * How many of a run's `running` items are being processed right now. A worker claims several items at
 * once and processes them one after another, and an item stays `running` until its completion is
 * committed with the next claim; so each worker holding running items is busy with exactly one of
 * them, and the rest are claimed ahead (or finished and about to be committed). Counted by lease owner,
 * which every host's worker writes, so it holds for workers on other hosts too.
 */
export async function itemsInProgress(db: Db, runId: string): Promise<number> {
  const row = await db
    .selectFrom('work_items')
    .select(sql<number>`count(distinct lease_owner)`.as('n'))
    .where('run_id', '=', runId)
    .where('status', '=', 'running')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
