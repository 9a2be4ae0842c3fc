import type { Kysely } from 'kysely';

// Landed: never edit this file; add a new numbered migration instead.
/**
 * Indexes for the API at 100,000 assets while a run writes (measured by scripts/bench/api-latency.mjs):
 * - artifacts (kind, asset_id): "which assets have a thumbnail" is read from the index alone, so the
 *   grid's has/lacks filters cost a few milliseconds instead of a scan per asset;
 * - locations (asset_id, source_id, path) replaces (asset_id): the listing's sort key (source name and
 *   path of an asset's first location) comes from the index without visiting the table;
 * - work_items (run_id, step_index, step, status, reused): a run's progress counts come from the index
 *   alone (197 ms -> 31 ms for a 200,000-item run), and progress is asked every second by every viewer.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('artifacts_kind_asset').on('artifacts').columns(['kind', 'asset_id']).execute();
  await db.schema.dropIndex('locations_asset').execute();
  await db.schema
    .createIndex('locations_asset_source_path')
    .on('locations')
    .columns(['asset_id', 'source_id', 'path'])
    .execute();
  await db.schema
    .createIndex('work_items_coverage')
    .on('work_items')
    .columns(['run_id', 'step_index', 'step', 'status', 'reused'])
    .execute();
}
