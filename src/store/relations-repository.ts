import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import type { PairingKeys } from '../catalog/relation-rules.js';
import { FOLDED_RELATIONS } from '../catalog/relation-rules.js';
import { chunksOf } from './chunks.js';
import type { Db } from './database.js';
import { dialectOf } from './dialect.js';
import type { AssetRelationsTable, Database, MediaType } from './schema.js';

/** The SQL of the relation index (migration 0013): pairing keys, relation rows, and the grid's filters. */

export interface MemberRow {
  asset_id: string;
  path: string;
  dir: string;
  media_type: MediaType;
  mime: string | null;
}

/**
 * Paths of one source that start with `prefix`, as an index range: on PostgreSQL a LIKE prefix, which
 * locations_source_path_pattern (source_id, path text_pattern_ops, migration 0013) answers whatever the
 * database's collation; on SQLite a range of the unique (source_id, path) index (binary order), with
 * substr for the exact meaning. A file name has no wildcard to fear: LIKE's are escaped.
 */
export function pathStartsWith(db: Db, column: Expression<string>, prefix: string): Expression<SqlBool> {
  if (dialectOf(db).name === 'postgres') {
    const escaped = prefix.replace(/[\\%_]/g, (c) => `\\${c}`);
    return sql<SqlBool>`${column} like ${`${escaped}%`} escape '\\'`;
  }
  return sql<SqlBool>`(${column} >= ${prefix} and ${column} < ${`${prefix}\u{10FFFF}`}
    and substr(${column}, 1, ${prefix.length}) = ${prefix})`;
}

function members(db: Db, sourceId: number) {
  return db
    .selectFrom('locations')
    .innerJoin('assets', 'assets.id', 'locations.asset_id')
    .select(['locations.asset_id', 'locations.path', 'locations.dir', 'assets.media_type', 'assets.mime'])
    .where('locations.source_id', '=', sourceId)
    .where('locations.status', '=', 'present')
    .where('assets.media_type', 'in', ['image', 'video']);
}

/** Folder groups per statement: two SELECTs each, far below SQLite's 500 in one compound statement. */
const GROUPS_PER_STATEMENT = 100;

/**
 * Present pictures and videos of these folder groups of a source, each file once, in no order: for a
 * group `key`, the files `key.` followed by anything, and `key` itself (a file without an extension).
 * Two index reads per group, all in one statement (a round trip on PostgreSQL, and this runs for every
 * completion batch with metadata): an OR of them would make SQLite give up the path range, UNION ALL
 * does not. The prefix also finds `key.x.jpg`, a group of its own: the caller sorts the files by group.
 */
export async function membersOfGroups(
  db: Db,
  sourceId: number,
  keys: readonly string[],
): Promise<MemberRow[]> {
  const found = new Map<string, MemberRow>();
  for (let i = 0; i < keys.length; i += GROUPS_PER_STATEMENT) {
    const parts = keys
      .slice(i, i + GROUPS_PER_STATEMENT)
      .flatMap((key) => [
        members(db, sourceId).where('locations.path', '=', key),
        members(db, sourceId).where(pathStartsWith(db, sql.ref('locations.path'), `${key}.`)),
      ]);
    const [first, ...rest] = parts;
    if (!first) continue;
    const rows = await rest.reduce((query, part) => query.unionAll(part), first).execute();
    for (const row of rows) found.set(row.path, row);
  }
  return [...found.values()];
}

/**
 * Present pictures and videos of these folders (locations_source_dir), in no order: an ORDER BY path
 * would make SQLite read the source's whole (source_id, path) index instead, for every batch.
 */
export async function membersOfFolders(
  db: Db,
  sourceId: number,
  dirs: readonly string[],
): Promise<MemberRow[]> {
  if (dirs.length === 0) return [];
  return members(db, sourceId)
    .where('locations.dir', 'in', [...dirs])
    .execute();
}

/** Folders of a source holding present files, after `after`, in order (locations_source_dir). */
export async function foldersOfSource(
  db: Db,
  sourceId: number,
  after: string | null,
  limit: number,
): Promise<string[]> {
  let query = db
    .selectFrom('locations')
    .select('dir')
    .distinct()
    .where('source_id', '=', sourceId)
    .where('status', '=', 'present');
  if (after !== null) query = query.where('dir', '>', after);
  const rows = await query.orderBy('dir').limit(limit).execute();
  return rows.map((r) => r.dir);
}

/** Present locations of these assets, for the groups new metadata results may change. */
export async function presentLocationsOf(
  db: Db,
  assetIds: readonly string[],
): Promise<{ source_id: number; path: string }[]> {
  const found: { source_id: number; path: string }[] = [];
  for (const ids of chunksOf([...new Set(assetIds)], 500)) {
    const rows = await db
      .selectFrom('locations')
      .select(['source_id', 'path'])
      .where('asset_id', 'in', ids)
      .where('status', '=', 'present')
      .execute();
    for (const r of rows) found.push({ source_id: Number(r.source_id), path: r.path });
  }
  return found;
}

export async function pairingKeysOfAssets(db: Db, ids: readonly string[]): Promise<Map<string, PairingKeys>> {
  const found = new Map<string, PairingKeys>();
  for (const chunk of chunksOf([...new Set(ids)], 500)) {
    const rows = await db.selectFrom('pairing_keys').selectAll().where('asset_id', 'in', chunk).execute();
    for (const r of rows)
      found.set(r.asset_id, {
        instant: r.instant_ms === null ? null : Number(r.instant_ms),
        local: r.local_ms === null ? null : Number(r.local_ms),
        contentIdentifier: r.content_identifier,
      });
  }
  return found;
}

/** A metadata result's pairing keys: its asset, artifact, keys, and whether it became current. */
export interface KeysResult {
  assetId: string;
  artifactId: string;
  keys: PairingKeys;
  current: boolean;
}

/**
 * Records the keys of metadata artifacts (each asset at most once); returns the assets whose keys changed
 * what pairing sees. The same rule as the listings' facts (asset-facts-repository.ts
 * recordCaptureFactsOf), so the grid and the asset page read one metadata: one made current always
 * counts; a sandbox one only while the asset has no current metadata, so production results are never
 * overridden. One read and one upsert per 500, not two statements per result.
 */
export async function writePairingKeys(trx: Db, results: readonly KeysResult[]): Promise<Set<string>> {
  const changed = new Set<string>();
  for (const chunk of chunksOf(results, 500)) {
    const existing = await trx
      .selectFrom('pairing_keys')
      .leftJoin('artifacts', 'artifacts.id', 'pairing_keys.metadata_artifact_id')
      .select([
        'pairing_keys.asset_id',
        'pairing_keys.instant_ms',
        'pairing_keys.local_ms',
        'pairing_keys.content_identifier',
        'artifacts.is_current',
      ])
      .where(
        'pairing_keys.asset_id',
        'in',
        chunk.map((r) => r.assetId),
      )
      .execute();
    const byAsset = new Map(existing.map((row) => [row.asset_id, row]));
    const rows = [];
    for (const { assetId, artifactId, keys, current } of chunk) {
      const row = byAsset.get(assetId);
      if (!current && row && Number(row.is_current ?? 0) === 1) continue;
      rows.push({
        asset_id: assetId,
        metadata_artifact_id: artifactId,
        instant_ms: keys.instant,
        local_ms: keys.local,
        content_identifier: keys.contentIdentifier,
      });
      const same =
        row !== undefined &&
        (row.instant_ms === null ? null : Number(row.instant_ms)) === keys.instant &&
        (row.local_ms === null ? null : Number(row.local_ms)) === keys.local &&
        row.content_identifier === keys.contentIdentifier;
      if (!same) changed.add(assetId);
    }
    if (rows.length === 0) continue;
    await trx
      .insertInto('pairing_keys')
      .values(rows)
      .onConflict((oc) =>
        oc.column('asset_id').doUpdateSet({
          metadata_artifact_id: sql.ref('excluded.metadata_artifact_id'),
          instant_ms: sql.ref('excluded.instant_ms'),
          local_ms: sql.ref('excluded.local_ms'),
          content_identifier: sql.ref('excluded.content_identifier'),
        }),
      )
      .execute();
  }
  return changed;
}

export type RelationRow = AssetRelationsTable;

/**
 * Replaces the rows of these groups (or of a whole folder) of a source with `rows`. Statements only: the
 * caller gives the transaction (a work item's completion, or one per folder of the catalog's pass).
 */
export async function replaceRelations(
  trx: Db,
  sourceId: number,
  scope: { groupKeys: readonly string[] } | { dirs: readonly string[] },
  rows: readonly RelationRow[],
): Promise<void> {
  let del = trx.deleteFrom('asset_relations').where('source_id', '=', sourceId);
  del =
    'dirs' in scope
      ? del.where('dir', 'in', scope.dirs.length > 0 ? [...scope.dirs] : [''])
      : del.where('group_key', 'in', scope.groupKeys.length > 0 ? [...scope.groupKeys] : ['']);
  await del.execute();
  for (let i = 0; i < rows.length; i += 200)
    await trx
      .insertInto('asset_relations')
      .values(rows.slice(i, i + 200))
      .execute();
}

/** Rows of folders of a source that no longer hold a present file (a deleted or emptied folder). */
export async function dropRelationsOfEmptyFolders(db: Db, sourceId: number): Promise<void> {
  await db
    .deleteFrom('asset_relations')
    .where('source_id', '=', sourceId)
    .where((eb) =>
      eb.not(
        eb.exists(
          eb
            .selectFrom('locations as l')
            .select('l.id')
            .where('l.source_id', '=', sourceId)
            .whereRef('l.dir', '=', 'asset_relations.dir')
            .where('l.status', '=', 'present'),
        ),
      ),
    )
    .execute();
}

/**
 * The indexed relatives of these assets (the grid's badges), each (asset, relative, relation) once, and
 * `motion-video-of` for a motion photo with an extracted video.
 */
export async function relationsOfAssets(
  db: Db,
  ids: readonly string[],
): Promise<Map<string, { assetId: string; relation: string }[]>> {
  const found = new Map<string, { assetId: string; relation: string }[]>();
  if (ids.length === 0) return found;
  const rows = await db
    .selectFrom('asset_relations')
    .select(['asset_id', 'related_asset_id', 'relation'])
    .distinct()
    .where('asset_id', 'in', [...new Set(ids)])
    .orderBy('asset_id')
    .orderBy('relation')
    .orderBy('related_asset_id')
    .execute();
  const motion = await db
    .selectFrom('artifacts')
    .select('asset_id')
    .distinct()
    .where('kind', '=', 'motion-video')
    .where('asset_id', 'in', [...new Set(ids)])
    .execute();
  // `motion-video-of` names the picture itself, as asset --json does.
  for (const m of motion)
    rows.push({ asset_id: m.asset_id, related_asset_id: m.asset_id, relation: 'motion-video-of' });
  for (const r of rows) {
    const list = found.get(r.asset_id) ?? [];
    list.push({ assetId: r.related_asset_id, relation: r.relation });
    found.set(r.asset_id, list);
  }
  return found;
}

type FactsScope = Database & { f: Database['asset_facts'] };

/**
 * The grid's relation filters, as conditions on `asset_facts f` (listing-filters.ts):
 * - `foldPairs`: leave out an asset that is folded into a relative's tile (a Live Photo's video, a RAW
 *   with its JPEG), probed per row on asset_relations_related (related_asset_id, relation);
 * - `relatives`: only assets with a relative (asset_relations_asset), or a motion photo's video.
 */
export function relationConditions(
  eb: ExpressionBuilder<FactsScope, 'f'>,
  filters: { foldPairs?: boolean; relatives?: boolean },
): Expression<SqlBool>[] {
  const and: Expression<SqlBool>[] = [];
  if (filters.foldPairs)
    and.push(
      eb.not(
        eb.exists(
          eb
            .selectFrom('asset_relations as fr')
            .select('fr.asset_id')
            .whereRef('fr.related_asset_id', '=', 'f.asset_id')
            .where('fr.relation', 'in', [...FOLDED_RELATIONS]),
        ),
      ),
    );
  if (filters.relatives)
    and.push(
      eb.or([
        eb.exists(
          eb
            .selectFrom('asset_relations as rr')
            .select('rr.asset_id')
            .whereRef('rr.asset_id', '=', 'f.asset_id'),
        ),
        // A motion photo is related to its own video artifact (artifacts_kind_asset: kind, asset_id).
        eb.exists(
          eb
            .selectFrom('artifacts as mv')
            .select('mv.id')
            .where('mv.kind', '=', 'motion-video')
            .whereRef('mv.asset_id', '=', 'f.asset_id'),
        ),
      ]),
    );
  return and;
}
