import { sql } from 'kysely';
import type { Db } from './database.js';

/**
 * What the web UI's grid and live run page read beyond the CLI's own listings: file times for the time
 * order, duplicates, the failure behind a tile, and how many items are in a worker's hands right now.
 */

/** Per asset, the earliest modification time (ms since the epoch) of its present locations, else of any. */
export async function assetMtimes(db: Db): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('locations')
    .select([
      'asset_id',
      // A copy usually has a newer mtime than the file it was copied from: the earliest is the best guess.
      sql<string>`min(case when status = 'present' then mtime_ns end)`.as('present'),
      sql<string>`min(mtime_ns)`.as('any'),
    ])
    .groupBy('asset_id')
    .execute();
  return new Map(rows.map((row) => [row.asset_id, Number(BigInt(row.present ?? row.any) / 1_000_000n)]));
}

/** Assets found at more than one present location: the same bytes under several paths. */
export async function duplicateAssetIds(db: Db): Promise<string[]> {
  const rows = await db
    .selectFrom('locations')
    .select('asset_id')
    .where('status', '=', 'present')
    .groupBy('asset_id')
    .having(sql`count(*)`, '>', 1)
    .execute();
  return rows.map((row) => row.asset_id);
}

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
