import fs from 'node:fs';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import { captureFactsOf, NO_FACTS, type CaptureFacts } from '../../catalog/capture-facts.js';
import { factsRowOf } from '../asset-facts-repository.js';
import type { Database } from '../schema.js';

// Landed once merged: never edit this file; add a new numbered migration instead.
/**
 * Listings from the database (issue 17): one row per asset with what the listings filter and sort by, and
 * an index per listing order (named in docs/listings.md), each led by `listed`:
 * - asset_facts_time (listed, sort_ms, asset_id): the grid by time, newest or oldest first, and the
 *   capture-day range;
 * - asset_facts_type_time (listed, media_type, sort_ms, asset_id): the same for one type;
 * - asset_facts_camera_time (listed, camera_key, sort_ms, asset_id): the same for one camera;
 * - asset_facts_month (listed, month) and asset_facts_type_month (listed, media_type, month): the date
 *   headers' counts, one grouped query read from the index alone.
 * Filled here from the catalog and each asset's current metadata artifact, read from the store.
 */
export function assetFactsMigration(artifactsDir: string | undefined) {
  return { up: (db: Kysely<unknown>) => up(db, artifactsDir) };
}

const BATCH = 500;

async function up(raw: Kysely<unknown>, artifactsDir: string | undefined): Promise<void> {
  const db = raw as unknown as Kysely<Database>;
  await raw.schema
    .createTable('asset_facts')
    .addColumn('asset_id', 'text', (c) => c.primaryKey().references('assets.id'))
    .addColumn('listed', 'bigint', (c) => c.notNull())
    .addColumn('media_type', 'text', (c) => c.notNull())
    .addColumn('file_mtime_ms', 'bigint', (c) => c.notNull())
    .addColumn('sort_ms', 'bigint', (c) => c.notNull())
    .addColumn('month', 'text', (c) => c.notNull())
    .addColumn('taken_day', 'text')
    .addColumn('metadata_artifact_id', 'text')
    .addColumn('taken_at', 'text')
    .addColumn('taken_at_source', 'text')
    .addColumn('taken_at_local', 'text')
    .addColumn('time_zone', 'text')
    .addColumn('time_zone_source', 'text')
    .addColumn('camera', 'text')
    .addColumn('camera_key', 'text')
    .addColumn('duration_sec', 'double precision')
    .execute();
  const indexes: [string, string[]][] = [
    ['asset_facts_time', ['listed', 'sort_ms', 'asset_id']],
    ['asset_facts_type_time', ['listed', 'media_type', 'sort_ms', 'asset_id']],
    ['asset_facts_camera_time', ['listed', 'camera_key', 'sort_ms', 'asset_id']],
    ['asset_facts_month', ['listed', 'month']],
    ['asset_facts_type_month', ['listed', 'media_type', 'month']],
  ];
  for (const [name, columns] of indexes)
    await raw.schema.createIndex(name).on('asset_facts').columns(columns).execute();

  // Every asset, in id order, a batch at a time: the backfill holds one batch, not the catalog.
  let after = '';
  for (;;) {
    const assets = await db
      .selectFrom('assets')
      .select(['id', 'media_type'])
      .where('id', '>', after)
      .orderBy('id')
      .limit(BATCH)
      .execute();
    if (assets.length === 0) break;
    after = assets.at(-1)!.id;
    const ids = assets.map((a) => a.id);
    const times = await db
      .selectFrom('locations')
      .select([
        'asset_id',
        sql<string | null>`min(case when status = 'present' then mtime_ns end)`.as('present'),
        sql<string>`min(mtime_ns)`.as('any'),
      ])
      .where('asset_id', 'in', ids)
      .groupBy('asset_id')
      .execute();
    const mtimeOf = new Map(times.map((t) => [t.asset_id, mtimeMsOf(t.present, t.any)]));
    const metadata = await db
      .selectFrom('artifacts')
      .select(['id', 'asset_id', 'path'])
      .where('asset_id', 'in', ids)
      .where('kind', '=', 'metadata')
      .where('is_current', '=', 1)
      .execute();
    const current = new Map(metadata.map((m) => [m.asset_id, m]));
    const rows = assets.map((asset) => {
      const artifact = current.get(asset.id);
      const facts = artifact ? readFacts(artifactsDir, artifact.path) : undefined;
      return factsRowOf({
        assetId: asset.id,
        listed: mtimeOf.has(asset.id),
        mediaType: asset.media_type,
        fileMtimeMs: mtimeOf.get(asset.id) ?? 0,
        facts: facts ?? NO_FACTS,
        metadataArtifactId: artifact?.id ?? null,
      });
    });
    await db.insertInto('asset_facts').values(rows).execute();
  }
}

/** The smallest mtime in ns (as text) of present locations, else of any, in ms. */
function mtimeMsOf(present: string | null, any: string): number {
  return Number(BigInt(present ?? any) / 1_000_000n);
}

function readFacts(artifactsDir: string | undefined, relative: string): CaptureFacts | undefined {
  if (!artifactsDir) return undefined;
  try {
    return captureFactsOf(
      JSON.parse(fs.readFileSync(path.join(artifactsDir, ...relative.split('/')), 'utf8')),
    );
  } catch {
    return undefined; // gone from the store (gc) or not JSON: placed by the file time until a run
  }
}
