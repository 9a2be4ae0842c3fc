import { sql } from 'kysely';
import type { Db } from './database.js';
import { pathStartsWith } from './relations-repository.js';
import type { MediaType, SidecarKind } from './schema.js';

/** The SQL of sidecar links (migration 0012): which sidecar location feeds which media location. */

export interface LocationName {
  id: number;
  path: string;
  media_type: MediaType;
}

/** Present locations of a source named like a sidecar (`.xmp`, `.json`), after `afterId`, by id. */
export async function sidecarCandidates(
  db: Db,
  sourceId: number,
  afterId: number,
  limit: number,
): Promise<{ id: number; path: string }[]> {
  return db
    .selectFrom('locations')
    .select(['id', 'path'])
    .where('source_id', '=', sourceId)
    .where('status', '=', 'present')
    .where('id', '>', afterId)
    .where((eb) =>
      eb.or([eb(sql<string>`lower(path)`, 'like', '%.xmp'), eb(sql<string>`lower(path)`, 'like', '%.json')]),
    )
    .orderBy('id')
    .limit(limit)
    .execute();
}

/** Present picture and video locations of a source at exactly these paths. */
export async function mediaAtPaths(
  db: Db,
  sourceId: number,
  paths: readonly string[],
): Promise<LocationName[]> {
  const found: LocationName[] = [];
  for (let i = 0; i < paths.length; i += 500) {
    const chunk = paths.slice(i, i + 500);
    found.push(
      ...(await db
        .selectFrom('locations')
        .innerJoin('assets', 'assets.id', 'locations.asset_id')
        .select(['locations.id', 'locations.path', 'assets.media_type'])
        .where('locations.source_id', '=', sourceId)
        .where('locations.status', '=', 'present')
        .where('locations.path', 'in', chunk)
        .where('assets.media_type', 'in', ['image', 'video'])
        .execute()),
    );
  }
  return found;
}

/** Present picture and video locations whose path starts with `prefix` (a name Takeout cut short). */
export async function mediaWithPrefix(db: Db, sourceId: number, prefix: string): Promise<LocationName[]> {
  return (
    db
      .selectFrom('locations')
      .innerJoin('assets', 'assets.id', 'locations.asset_id')
      .select(['locations.id', 'locations.path', 'assets.media_type'])
      .where('locations.source_id', '=', sourceId)
      .where('locations.status', '=', 'present')
      // An index range on both dialects (relations-repository.ts pathStartsWith; on PostgreSQL
      // locations_source_path_pattern of migration 0013), not a substr() over every file of the source.
      .where(pathStartsWith(db, sql.ref('locations.path'), prefix))
      .where('assets.media_type', 'in', ['image', 'video'])
      .limit(50)
      .execute()
  );
}

/** Replaces the links of these sidecar locations with `links` in one transaction. */
export async function replaceSidecarLinks(
  db: Db,
  sourceId: number,
  sidecarLocationIds: readonly number[],
  links: readonly { sidecarLocationId: number; mediaLocationId: number; kind: SidecarKind }[],
): Promise<void> {
  if (sidecarLocationIds.length === 0) return;
  await db.transaction().execute(async (trx) => {
    await trx
      .deleteFrom('sidecar_links')
      .where('sidecar_location_id', 'in', [...sidecarLocationIds])
      .execute();
    for (let i = 0; i < links.length; i += 200) {
      await trx
        .insertInto('sidecar_links')
        .values(
          links.slice(i, i + 200).map((l) => ({
            sidecar_location_id: l.sidecarLocationId,
            media_location_id: l.mediaLocationId,
            kind: l.kind,
            source_id: sourceId,
          })),
        )
        .execute();
    }
  });
}

export async function countSidecarLinks(db: Db, sourceId: number): Promise<number> {
  const row = await db
    .selectFrom('sidecar_links')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('source_id', '=', sourceId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Drops the links of sidecars that are no longer present in the source. */
export async function dropLinksOfAbsentSidecars(db: Db, sourceId: number): Promise<void> {
  await db
    .deleteFrom('sidecar_links')
    .where('source_id', '=', sourceId)
    .where((eb) =>
      eb(
        'sidecar_location_id',
        'not in',
        eb
          .selectFrom('locations')
          .select('id')
          .where('source_id', '=', sourceId)
          .where('status', '=', 'present'),
      ),
    )
    .execute();
}

export interface SidecarOfAsset {
  mediaAssetId: string;
  kind: SidecarKind;
  source: string;
  root: string;
  /** Relative to the source root. */
  path: string;
  /** The sidecar's content hash (its asset id). */
  sha256: string;
  size: number;
  mtimeNs: string;
  inode: string;
}

/** The present sidecars linked to present locations of these assets, in a stable order. */
export async function sidecarsOfAssets(db: Db, assetIds: readonly string[]): Promise<SidecarOfAsset[]> {
  if (assetIds.length === 0) return [];
  const rows = await db
    .selectFrom('sidecar_links')
    .innerJoin('locations as media', 'media.id', 'sidecar_links.media_location_id')
    .innerJoin('locations as side', 'side.id', 'sidecar_links.sidecar_location_id')
    .innerJoin('sources', 'sources.id', 'side.source_id')
    .select([
      'media.asset_id as mediaAssetId',
      'sidecar_links.kind',
      'sources.name as source',
      'sources.path as root',
      'side.path',
      'side.asset_id as sha256',
      'side.size',
      'side.mtime_ns as mtimeNs',
      'side.inode',
    ])
    .where('media.asset_id', 'in', [...assetIds])
    .where('media.status', '=', 'present')
    .where('side.status', '=', 'present')
    .orderBy('sidecar_links.kind')
    .orderBy('side.path')
    .execute();
  // Two copies of one file in two folders may each have a sidecar; the same sidecar content counts once.
  const seen = new Set<string>();
  return rows.filter((row) => {
    const key = `${row.mediaAssetId}:${row.kind}:${row.sha256}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
