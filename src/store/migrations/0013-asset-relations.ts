import fs from 'node:fs';
import path from 'node:path';
import { PostgresAdapter, sql, type Kysely } from 'kysely';
import { captureFactsOf } from '../../catalog/capture-facts.js';
import { indexRelationsOfSource } from '../../catalog/relation-index.js';
import { pairingKeysOf } from '../../catalog/relation-rules.js';
import type { Database } from '../schema.js';

// Landed once merged: never edit this file; add a new numbered migration instead.
/**
 * The files that belong together, indexed (issue 15; src/catalog/relation-index.ts):
 * - pairing_keys: per asset, what pairing reads from its metadata (times, Apple content identifier);
 * - asset_relations: one row per (asset, relative, relation) and folder group, with
 *   asset_relations_asset (asset_id, relation) for the relatives filter and the badges,
 *   asset_relations_related (related_asset_id, relation) for folding pairs into one grid tile, and
 *   (source_id, dir) / (source_id, group_key) for what a recomputation replaces;
 * - on PostgreSQL, locations_source_path_pattern (source_id, path text_pattern_ops): a path-prefix
 *   query (a Takeout name cut short, a folder group) is an index range under any database collation,
 *   where the unique (source_id, path) index serves only equality and ordering by that collation.
 * Filled here from each asset's listed metadata artifact (asset_facts, read from the store) and the
 * catalog, as the catalog and each metadata result keep them from now on.
 */
export function assetRelationsMigration(artifactsDir: string | undefined) {
  return { up: (db: Kysely<unknown>) => up(db, artifactsDir) };
}

const BATCH = 500;

async function up(raw: Kysely<unknown>, artifactsDir: string | undefined): Promise<void> {
  const db = raw as unknown as Kysely<Database>;
  await raw.schema
    .createTable('pairing_keys')
    .addColumn('asset_id', 'text', (c) => c.primaryKey().references('assets.id'))
    .addColumn('metadata_artifact_id', 'text', (c) => c.notNull())
    .addColumn('instant_ms', 'bigint')
    .addColumn('local_ms', 'bigint')
    .addColumn('content_identifier', 'text')
    .execute();
  await raw.schema
    .createTable('asset_relations')
    .addColumn('asset_id', 'text', (c) => c.notNull())
    .addColumn('related_asset_id', 'text', (c) => c.notNull())
    .addColumn('relation', 'text', (c) => c.notNull())
    .addColumn('by', 'text', (c) => c.notNull())
    .addColumn('source_id', 'bigint', (c) => c.notNull().references('sources.id'))
    .addColumn('dir', 'text', (c) => c.notNull())
    .addColumn('group_key', 'text', (c) => c.notNull())
    .addColumn('path', 'text', (c) => c.notNull())
    .execute();
  const indexes: [string, string[]][] = [
    ['asset_relations_asset', ['asset_id', 'relation']],
    ['asset_relations_related', ['related_asset_id', 'relation']],
    ['asset_relations_dir', ['source_id', 'dir']],
    ['asset_relations_group', ['source_id', 'group_key']],
  ];
  for (const [name, columns] of indexes)
    await raw.schema.createIndex(name).on('asset_relations').columns(columns).execute();
  if (raw.getExecutor().adapter instanceof PostgresAdapter)
    await sql`create index locations_source_path_pattern on locations (source_id, path text_pattern_ops)`.execute(
      raw,
    );

  // The keys of every asset's listed metadata, a batch at a time, read from the store.
  let after = '';
  for (;;) {
    const rows = await db
      .selectFrom('asset_facts')
      .innerJoin('artifacts', 'artifacts.id', 'asset_facts.metadata_artifact_id')
      .select(['asset_facts.asset_id', 'artifacts.id', 'artifacts.path'])
      .where('asset_facts.asset_id', '>', after)
      .orderBy('asset_facts.asset_id')
      .limit(BATCH)
      .execute();
    if (rows.length === 0) break;
    after = rows.at(-1)!.asset_id;
    const values = rows.flatMap((row) => {
      const metadata = readJson(artifactsDir, row.path);
      if (metadata === undefined) return [];
      const keys = pairingKeysOf(captureFactsOf(metadata));
      return [
        {
          asset_id: row.asset_id,
          metadata_artifact_id: row.id,
          instant_ms: keys.instant,
          local_ms: keys.local,
          content_identifier: keys.contentIdentifier,
        },
      ];
    });
    if (values.length > 0) await db.insertInto('pairing_keys').values(values).execute();
  }
  for (const source of await db.selectFrom('sources').select('id').execute())
    await indexRelationsOfSource(db, Number(source.id), { inTransaction: true });
}

function readJson(artifactsDir: string | undefined, relative: string): unknown {
  if (!artifactsDir) return undefined;
  try {
    return JSON.parse(fs.readFileSync(path.join(artifactsDir, ...relative.split('/')), 'utf8')) as unknown;
  } catch {
    return undefined; // gone from the store (gc) or not JSON: paired once a run makes it again
  }
}
