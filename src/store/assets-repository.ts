import { sql } from 'kysely';
import type { Db } from './database.js';
import { pathMatchesGlob, startsWith } from './dialect.js';
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
  if (filters.pathGlob) query = query.where(pathMatchesGlob(sql.ref('locations.path'), filters.pathGlob));
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

/** Assets matching the filters, in path order, with all their locations. */
export async function listAssets(db: Db, filters: AssetFilters): Promise<AssetWithLocations[]> {
  let query = filteredLocations(db, filters)
    .select([
      'assets.id',
      'assets.size',
      'assets.media_type',
      'assets.mime',
      'assets.first_seen_at',
      // Sort by the asset's first location: a listing reads like the folders it comes from.
      sql<string>`min(sources.name || '/' || locations.path)`.as('sort_key'),
    ])
    .groupBy('assets.id')
    .orderBy('sort_key');
  if (filters.limit !== undefined) query = query.limit(filters.limit);
  const rows = await query.execute();
  const locations = await locationsOf(
    db,
    rows.map((row) => row.id),
  );
  return rows.map(({ sort_key: _sortKey, ...asset }) => ({
    ...asset,
    locations: locations.get(asset.id) ?? [],
  }));
}

export async function countAssets(db: Db, filters: AssetFilters): Promise<number> {
  const row = await filteredLocations(db, filters)
    .select(sql<number>`count(distinct assets.id)`.as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
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
