import { sql } from 'kysely';
import { listCatalogedAssets, unlistOrphans } from './asset-facts-repository.js';
import {
  insertFreshMarks,
  refreshLocationMarks,
  refreshLocationMarksAt,
  sourceMark,
  syncMarksWithFacts,
} from './asset-marks-repository.js';
import type { Db } from './database.js';
import type { LocationRow, MediaType } from './schema.js';

/** A file's identity as the filesystem reports it: what "unchanged" is decided on. */
export interface FileStats {
  size: number;
  mtimeNs: string;
  ctimeNs: string;
  inode: string;
}

export interface NewAsset {
  id: string;
  size: number;
  mediaType: MediaType;
  mime: string | null;
}

/** One change the catalog wants to make; applied in batches so a crash keeps what was hashed. */
export type CatalogWrite =
  | { kind: 'insert'; path: string; asset: NewAsset; stats: FileStats }
  | { kind: 'touch'; locationId: number; stats: FileStats }
  | { kind: 'repoint'; locationId: number; previousAssetId: string; asset: NewAsset; stats: FileStats };

/** The folder of a relative path: '' at the source root. */
export function folderOf(rel: string): string {
  const slash = rel.lastIndexOf('/');
  return slash < 0 ? '' : rel.slice(0, slash);
}

/** Known locations at these paths (the unique (source_id, path) index), by path. */
export async function locationsAtPaths(
  db: Db,
  sourceId: number,
  paths: readonly string[],
): Promise<Map<string, LocationRow>> {
  const out = new Map<string, LocationRow>();
  for (let i = 0; i < paths.length; i += 500) {
    const rows = await db
      .selectFrom('locations')
      .selectAll()
      .where('source_id', '=', sourceId)
      .where('path', 'in', paths.slice(i, i + 500))
      .execute();
    for (const row of rows) out.set(row.path, row);
  }
  return out;
}

/** Known locations with one of these inodes (locations_source_inode), by `inode:size:mtime`. */
export async function locationsWithInodes(
  db: Db,
  sourceId: number,
  inodes: readonly string[],
): Promise<Map<string, LocationRow>> {
  const out = new Map<string, LocationRow>();
  const unique = [...new Set(inodes)];
  for (let i = 0; i < unique.length; i += 500) {
    const rows = await db
      .selectFrom('locations')
      .selectAll()
      .where('source_id', '=', sourceId)
      .where('inode', 'in', unique.slice(i, i + 500))
      .execute();
    for (const row of rows) out.set(`${row.inode}:${row.size}:${row.mtime_ns}`, row);
  }
  return out;
}

/** The known locations directly in one folder (locations_source_dir). */
export async function locationsInFolder(
  db: Db,
  sourceId: number,
  dir: string,
): Promise<Pick<LocationRow, 'id' | 'path' | 'status'>[]> {
  return db
    .selectFrom('locations')
    .select(['id', 'path', 'status'])
    .where('source_id', '=', sourceId)
    .where('dir', '=', dir)
    .execute();
}

/** Folders of the source with known locations, after `after` in order, a page at a time. */
export async function knownFolders(db: Db, sourceId: number, after: string | null, limit: number) {
  let query = db
    .selectFrom('locations')
    .select('dir')
    .distinct()
    .where('source_id', '=', sourceId)
    .orderBy('dir')
    .limit(limit);
  if (after !== null) query = query.where('dir', '>', after);
  return (await query.execute()).map((row) => row.dir);
}

/** Marks the present locations of a folder missing (a folder that is gone); how many were. */
export async function markFolderMissing(db: Db, sourceId: number, dir: string, now: string): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const rows = await trx
      .updateTable('locations')
      .set({ status: 'missing', missing_since: now })
      .where('source_id', '=', sourceId)
      .where('dir', '=', dir)
      .where('status', '=', 'present')
      .returning('asset_id')
      .execute();
    // A copy gone missing may leave its asset with one present location: no longer a duplicate.
    await refreshLocationMarks(
      trx,
      rows.map((r) => r.asset_id),
    );
    return rows.length;
  });
}

/** The highest location id so far: locations inserted later are this scan's arrivals. */
export async function lastLocationId(db: Db): Promise<number> {
  const row = await db
    .selectFrom('locations')
    .select((eb) => eb.fn.max('id').as('max'))
    .executeTakeFirst();
  return Number(row?.max ?? 0);
}

/** Locations inserted after `afterId`, in id order, a page at a time. */
export async function arrivalsAfter(
  db: Db,
  sourceId: number,
  scanId: number,
  afterId: number,
  limit: number,
): Promise<{ id: number; path: string; asset_id: string }[]> {
  return db
    .selectFrom('locations')
    .select(['id', 'path', 'asset_id'])
    .where('id', '>', afterId)
    .where('source_id', '=', sourceId)
    .where('first_scan_id', '=', scanId)
    .orderBy('id')
    .limit(limit)
    .execute();
}

/**
 * The missing locations of these assets in the source: where an arrival may have moved from. `newly`
 * says the location went missing in this scan (missing since it started).
 */
export async function missingLocationsOf(
  db: Db,
  sourceId: number,
  assetIds: readonly string[],
  scanStartedAt: string,
): Promise<{ id: number; path: string; asset_id: string; first_seen_at: string; newly: number }[]> {
  if (assetIds.length === 0) return [];
  const rows = await db
    .selectFrom('locations')
    .select([
      'id',
      'path',
      'asset_id',
      'first_seen_at',
      sql<number>`case when missing_since >= ${scanStartedAt} then 1 else 0 end`.as('newly'),
    ])
    .where('asset_id', 'in', [...new Set(assetIds)])
    .where('source_id', '=', sourceId)
    .where('status', '=', 'missing')
    .orderBy('id')
    .execute();
  return rows.map((row) => ({ ...row, first_seen_at: String(row.first_seen_at), newly: Number(row.newly) }));
}

export async function hasMissing(db: Db, sourceId: number): Promise<boolean> {
  const row = await db
    .selectFrom('locations')
    .select('id')
    .where('source_id', '=', sourceId)
    .where('status', '=', 'missing')
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** Rows per multi-row INSERT: 12 columns x 400 rows stays far below SQLite's 32,766 bound parameters. */
const ROWS_PER_INSERT = 400;

export async function applyCatalogWrites(
  db: Db,
  sourceId: number,
  scanId: number,
  now: string,
  writes: readonly CatalogWrite[],
): Promise<void> {
  if (writes.length === 0) return;
  const stats = (s: FileStats) => ({
    size: s.size,
    mtime_ns: s.mtimeNs,
    ctime_ns: s.ctimeNs,
    inode: s.inode,
  });
  // Content-addressed: the same bytes seen again (a copy, a move) are the same asset.
  const assets = new Map<string, NewAsset>();
  for (const write of writes) if (write.kind !== 'touch') assets.set(write.asset.id, write.asset);
  const inserts = writes.filter((w) => w.kind === 'insert');
  await db.transaction().execute(async (trx) => {
    const assetRows = [...assets.values()].map((asset) => ({
      id: asset.id,
      size: asset.size,
      media_type: asset.mediaType,
      mime: asset.mime,
      first_seen_at: now,
    }));
    // The assets this batch brought first: nothing else can know them yet (see the marks below).
    const firstSeen = new Set<string>();
    for (let i = 0; i < assetRows.length; i += ROWS_PER_INSERT) {
      const rows = await trx
        .insertInto('assets')
        .values(assetRows.slice(i, i + ROWS_PER_INSERT))
        .onConflict((oc) => oc.column('id').doNothing())
        .returning('id')
        .execute();
      for (const row of rows) firstSeen.add(row.id);
    }
    for (let i = 0; i < inserts.length; i += ROWS_PER_INSERT) {
      await trx
        .insertInto('locations')
        .values(
          inserts.slice(i, i + ROWS_PER_INSERT).map((write) => ({
            source_id: sourceId,
            path: write.path,
            dir: folderOf(write.path),
            asset_id: write.asset.id,
            ...stats(write.stats),
            status: 'present' as const,
            first_seen_at: now,
            first_scan_id: scanId,
            last_seen_at: now,
            missing_since: null,
          })),
        )
        .execute();
    }
    for (const write of writes) {
      switch (write.kind) {
        case 'insert':
          break;
        case 'touch':
          await trx
            .updateTable('locations')
            .set({ ...stats(write.stats), status: 'present', missing_since: null, last_seen_at: now })
            .where('id', '=', write.locationId)
            .execute();
          break;
        case 'repoint':
          await trx
            .updateTable('locations')
            .set({
              ...stats(write.stats),
              asset_id: write.asset.id,
              status: 'present',
              missing_since: null,
              last_seen_at: now,
            })
            .where('id', '=', write.locationId)
            .execute();
          break;
      }
    }
    // The listings' table: every asset given a location is listed; one that lost its last is not.
    const placed = await listCatalogedAssets(
      trx,
      writes.flatMap((w) =>
        w.kind === 'touch'
          ? []
          : [{ assetId: w.asset.id, mediaType: w.asset.mediaType, mtimeMs: msOf(w.stats.mtimeNs) }],
      ),
    );
    const repointed = writes.flatMap((w) => (w.kind === 'repoint' ? [w.previousAssetId] : []));
    if (repointed.length > 0) await unlistOrphans(trx, repointed);
    // The filters' marks follow the facts and locations written above, in this same transaction. An
    // asset first seen here at one path has exactly one mark, its source, placed as its facts row: written
    // as such, which is most of a first pass. Any other is recomputed from its locations.
    const paths = new Map<string, number>();
    for (const w of writes) if (w.kind !== 'touch') paths.set(w.asset.id, (paths.get(w.asset.id) ?? 0) + 1);
    const fresh = [...firstSeen].filter((id) => paths.get(id) === 1);
    await insertFreshMarks(
      trx,
      fresh.map((id) => ({ assetId: id, mark: sourceMark(sourceId), ...placed.get(id)! })),
    );
    const freshIds = new Set(fresh);
    const changed = [...assets.keys(), ...repointed].filter((id) => !freshIds.has(id));
    await syncMarksWithFacts(trx, changed);
    await refreshLocationMarks(trx, changed);
    await refreshLocationMarksAt(
      trx,
      writes.flatMap((w) => (w.kind === 'touch' ? [w.locationId] : [])),
    );
  });
}

function msOf(mtimeNs: string): number {
  return Number(BigInt(mtimeNs) / 1_000_000n);
}

export async function markMissing(db: Db, ids: readonly number[], now: string): Promise<void> {
  if (ids.length === 0) return;
  await db.transaction().execute(async (trx) => {
    for (let i = 0; i < ids.length; i += 500) {
      await trx
        .updateTable('locations')
        .set({ status: 'missing', missing_since: now })
        .where('id', 'in', ids.slice(i, i + 500))
        .execute();
    }
    await refreshLocationMarksAt(trx, ids);
  });
}

/**
 * A vanished location whose content turned up at a new path: the file moved. The new location (already
 * inserted) carries the asset on; the old row goes, so the asset is not listed as missing anywhere.
 */
export async function recordMoves(
  db: Db,
  moves: readonly { fromId: number; toId: number; firstSeenAt: string }[],
): Promise<void> {
  if (moves.length === 0) return;
  await db.transaction().execute(async (trx) => {
    for (const move of moves) {
      await trx.deleteFrom('locations').where('id', '=', move.fromId).execute();
      // The file has been in the archive since it was first seen, wherever it lives now.
      await trx
        .updateTable('locations')
        .set({ first_seen_at: move.firstSeenAt })
        .where('id', '=', move.toId)
        .execute();
    }
    await refreshLocationMarksAt(
      trx,
      moves.map((m) => m.toId),
    );
  });
}

export async function countMissing(db: Db, sourceId: number): Promise<number> {
  const row = await db
    .selectFrom('locations')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('source_id', '=', sourceId)
    .where('status', '=', 'missing')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
