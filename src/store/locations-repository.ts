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
  | { kind: 'repoint'; locationId: number; asset: NewAsset; stats: FileStats };

export async function loadLocations(db: Db, sourceId: number): Promise<Map<string, LocationRow>> {
  const rows = await db.selectFrom('locations').selectAll().where('source_id', '=', sourceId).execute();
  return new Map(rows.map((row) => [row.path, row]));
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
    for (let i = 0; i < assetRows.length; i += ROWS_PER_INSERT) {
      await trx
        .insertInto('assets')
        .values(assetRows.slice(i, i + ROWS_PER_INSERT))
        .onConflict((oc) => oc.column('id').doNothing())
        .execute();
    }
    for (let i = 0; i < inserts.length; i += ROWS_PER_INSERT) {
      await trx
        .insertInto('locations')
        .values(
          inserts.slice(i, i + ROWS_PER_INSERT).map((write) => ({
            source_id: sourceId,
            path: write.path,
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
  });
}

/** Locations first seen in this scan, by asset: where a vanished file may have moved to. */
export async function locationsFirstSeenIn(
  db: Db,
  scanId: number,
): Promise<{ id: number; path: string; asset_id: string }[]> {
  return db
    .selectFrom('locations')
    .select(['id', 'path', 'asset_id'])
    .where('first_scan_id', '=', scanId)
    .execute();
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
