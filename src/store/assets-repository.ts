import { sql } from 'kysely';
import type { Db } from './database.js';
import { dialectOf, startsWith } from './dialect.js';
import type { AssetRow, LocationStatus, MediaType } from './schema.js';

export interface AssetFilters {
  source?: string;
  mediaTypes?: readonly MediaType[];
  pathGlob?: string;
  /** Only assets with no done work item of this step (in any run). */
  missingStep?: string;
  limit?: number;
}

export interface LocationView {
  source: string;
  sourcePath: string;
  path: string;
  status: LocationStatus;
  size: number;
  mtimeNs: string;
  firstSeenAt: string;
  lastSeenAt: string;
  missingSince: string | null;
}

export interface AssetWithLocations extends AssetRow {
  locations: LocationView[];
}

function filteredLocations(db: Db, filters: AssetFilters) {
  let query = db
    .selectFrom('assets')
    .innerJoin('locations', 'locations.asset_id', 'assets.id')
    .innerJoin('sources', 'sources.id', 'locations.source_id');
  if (filters.source) query = query.where('sources.name', '=', filters.source);
  if (filters.mediaTypes) query = query.where('assets.media_type', 'in', filters.mediaTypes);
  if (filters.pathGlob)
    query = query.where(dialectOf(db).pathMatchesGlob(sql.ref('locations.path'), filters.pathGlob));
  if (filters.missingStep) {
    const step = filters.missingStep;
    query = query.where((eb) =>
      eb.not(
        eb.exists(
          eb
            .selectFrom('work_items')
            .select('work_items.id')
            .whereRef('work_items.asset_id', '=', 'assets.id')
            .where('work_items.step', '=', step)
            .where('work_items.status', '=', 'done'),
        ),
      ),
    );
  }
  return query;
}

export async function locationsOf(db: Db, assetIds: readonly string[]): Promise<Map<string, LocationView[]>> {
  const result = new Map<string, LocationView[]>();
  for (let i = 0; i < assetIds.length; i += 500) {
    const rows = await db
      .selectFrom('locations')
      .innerJoin('sources', 'sources.id', 'locations.source_id')
      .select([
        'locations.asset_id',
        'sources.name as source',
        'sources.path as sourcePath',
        'locations.path',
        'locations.status',
        'locations.size',
        'locations.mtime_ns as mtimeNs',
        'locations.first_seen_at as firstSeenAt',
        'locations.last_seen_at as lastSeenAt',
        'locations.missing_since as missingSince',
      ])
      .where('locations.asset_id', 'in', assetIds.slice(i, i + 500))
      .orderBy('sources.name')
      .orderBy('locations.path')
      .execute();
    for (const { asset_id, ...location } of rows) {
      const list = result.get(asset_id) ?? [];
      list.push(location);
      result.set(asset_id, list);
    }
  }
  return result;
}

export async function findAssetsByIdPrefix(db: Db, prefix: string, max: number): Promise<AssetRow[]> {
  return db
    .selectFrom('assets')
    .selectAll()
    .where(startsWith(sql.ref('id'), prefix.toLowerCase()))
    .orderBy('id')
    .limit(max)
    .execute();
}

export async function findAssetAtLocation(
  db: Db,
  sourceId: number,
  path: string,
): Promise<AssetRow | undefined> {
  return db
    .selectFrom('locations')
    .innerJoin('assets', 'assets.id', 'locations.asset_id')
    .selectAll('assets')
    .where('locations.source_id', '=', sourceId)
    .where('locations.path', '=', path)
    .executeTakeFirst();
}

/** Ids (with media type) of every asset matching the filters, in path order: a collection's scope. */
export async function assetIdsMatching(
  db: Db,
  filters: AssetFilters,
): Promise<{ id: string; mediaType: MediaType }[]> {
  const rows = await filteredLocations(db, filters)
    .select([
      'assets.id',
      'assets.media_type',
      sql<string>`min(sources.name || '/' || locations.path)`.as('sort_key'),
    ])
    .groupBy('assets.id')
    .orderBy('sort_key')
    .execute();
  return rows.map((row) => ({ id: row.id, mediaType: row.media_type }));
}

/** These assets with their locations, in the order given (unknown ids are left out). */
export async function assetsByIds(db: Db, ids: readonly string[]): Promise<AssetWithLocations[]> {
  const rows: AssetRow[] = [];
  for (let i = 0; i < ids.length; i += 500)
    rows.push(
      ...(await db
        .selectFrom('assets')
        .selectAll()
        .where('id', 'in', ids.slice(i, i + 500))
        .execute()),
    );
  const byId = new Map(rows.map((row) => [row.id, row]));
  const locations = await locationsOf(db, ids);
  return ids.flatMap((id) => {
    const row = byId.get(id);
    return row ? [{ ...row, locations: locations.get(id) ?? [] }] : [];
  });
}

/** Per asset, its artifact of this kind to show: the current one, else the newest. */
export async function artifactOfKindFor(
  db: Db,
  assetIds: readonly string[],
  kind: string,
): Promise<Map<string, { id: string; mime: string }>> {
  const result = new Map<string, { id: string; mime: string }>();
  for (let i = 0; i < assetIds.length; i += 500) {
    const rows = await db
      .selectFrom('artifacts')
      .select(['id', 'asset_id', 'mime'])
      .where('asset_id', 'in', assetIds.slice(i, i + 500))
      .where('kind', '=', kind)
      .orderBy('is_current', 'desc')
      .orderBy('created_at', 'desc')
      .execute();
    for (const row of rows)
      if (!result.has(row.asset_id)) result.set(row.asset_id, { id: row.id, mime: row.mime });
  }
  return result;
}

/** How big the catalog and the store are now: a cheap signal that something changed. */
export async function catalogTotals(
  db: Db,
): Promise<{ assets: number; artifacts: number; lastArtifactAt: string | null }> {
  const assets = await db
    .selectFrom('assets')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  const artifacts = await db
    .selectFrom('artifacts')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  // The newest by insertion (rowid on SQLite): an index lookup, where max(created_at) would scan the table.
  const last = await db
    .selectFrom('artifacts')
    .select('created_at')
    .orderBy(dialectOf(db).artifactInsertionOrder, 'desc')
    .limit(1)
    .executeTakeFirst();
  return {
    assets: Number(assets.n),
    artifacts: Number(artifacts.n),
    lastArtifactAt: last?.created_at ?? null,
  };
}

/** Every artifact kind in the store, for filters. */
export async function artifactKinds(db: Db): Promise<string[]> {
  const rows = await db.selectFrom('artifacts').select('kind').distinct().orderBy('kind').execute();
  return rows.map((row) => row.kind);
}

/** The asset rows themselves, by id (no locations). */
export async function assetRows(db: Db, ids: readonly string[]): Promise<AssetRow[]> {
  const rows: AssetRow[] = [];
  for (let i = 0; i < ids.length; i += 500)
    rows.push(
      ...(await db
        .selectFrom('assets')
        .selectAll()
        .where('id', 'in', ids.slice(i, i + 500))
        .execute()),
    );
  return rows;
}

/** Present locations of these assets as (asset, source root, relative path), oldest location first. */
export async function presentLocations(
  db: Db,
  assetIds: readonly string[],
): Promise<
  { asset_id: string; source: string; root: string; path: string; mtime_ns: string; inode: string }[]
> {
  if (assetIds.length === 0) return [];
  return db
    .selectFrom('locations')
    .innerJoin('sources', 'sources.id', 'locations.source_id')
    .select([
      'locations.asset_id',
      'sources.name as source',
      'sources.path as root',
      'locations.path',
      'locations.mtime_ns',
      'locations.inode',
    ])
    .where('locations.asset_id', 'in', [...assetIds])
    .where('locations.status', '=', 'present')
    .orderBy('locations.id')
    .execute();
}
