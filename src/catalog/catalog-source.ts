import fs from 'node:fs';
import { sql } from 'kysely';
import { ArchivistError, errnoCode } from '../errors.js';
import type { Db } from '../store/database.js';
import { dialectOf } from '../store/dialect.js';
import {
  applyCatalogWrites,
  countMissing,
  knownFolders,
  lastLocationId,
  locationsAtPaths,
  locationsInFolder,
  locationsWithInodes,
  markFolderMissing,
  markMissing,
  type CatalogWrite,
  type FileStats,
  type NewAsset,
} from '../store/locations-repository.js';
import { finishScan, startScan } from '../store/scans-repository.js';
import type { LocationRow, SourceRow } from '../store/schema.js';
import { sourceFilePath } from './file-names.js';
import { detectMediaKind } from './media-type.js';
import { linkSidecars, type SidecarLinkSummary } from './sidecar-links.js';
import { indexRelationsOfSource } from './relation-index.js';
import { hashSourceFile, isLocalFilesystem, SourceReadError, type SourcePath } from './source-reader.js';
import { reconcileMoves } from './reconcile-moves.js';
import { walkSource, type WalkedFile } from './walk-source.js';

export interface CatalogError {
  path: string;
  reason: string;
  message: string;
}

/** The catalog summary of PRODUCT section 5, plus a few counts a careful user wants. */
export interface CatalogSummary {
  source: string;
  scanned: number;
  new: number;
  changed: number;
  unchanged: number;
  moved: number;
  /** Locations found missing by this scan (they are kept, marked missing, and come back if they reappear). */
  missing: number;
  /** Locations that had been missing and are back at the same path. */
  restored: number;
  /** All locations of the source that are missing after this scan. */
  missingTotal: number;
  hashed: number;
  bytesHashed: number;
  skipped: { junk: number; symlinks: number };
  errors: CatalogError[];
  /** Sidecars linked to their media files after this scan (core@2 reads them). */
  sidecars: SidecarLinkSummary;
  durationMs: number;
}

export interface CatalogProgress {
  source: string;
  scanned: number;
  hashed: number;
  bytesHashed: number;
}

export interface CatalogOptions {
  isJunk: (name: string) => boolean;
  hashConcurrency: number;
  onProgress?: (progress: CatalogProgress) => void;
  now?: () => Date;
  /**
   * Files looked up and written per batch (default 2000): the catalog holds a batch and one folder's
   * names, never the source's locations, so its memory does not grow with the archive.
   */
  batchSize?: number;
}

/**
 * Writes are flushed in batches: few transactions, yet a crash loses at most one batch of hashing. A
 * first pass writes each file into a dozen b-trees, most keyed by content hash (random): the bigger the
 * transaction, the more of its rows share a dirty page written once at commit (with the larger page cache
 * below, 2,000 -> 10,000 took a 50,000-file first pass from 9.7 to 7.7 CPU-seconds, measured once on a
 * loaded machine; that saving pays for the listing marks the catalog now writes).
 */
const DEFAULT_BATCH = 10_000;

/**
 * SQLite's page cache while a catalog runs, in KiB (the default is 16 MiB): the random-keyed indexes of
 * a large archive do not fit the default, and every miss is a read and a later write of a page. 64 MiB
 * keeps the re-scan's peak RSS far under 300 MB at a million files; the previous size is restored after.
 */
const CATALOG_CACHE_KIB = 65_536;

function statsOf(file: { size: number; mtimeNs: string; ctimeNs: string; inode: string }): FileStats {
  return { size: file.size, mtimeNs: file.mtimeNs, ctimeNs: file.ctimeNs, inode: file.inode };
}

export async function catalogSource(
  db: Db,
  source: SourceRow,
  options: CatalogOptions,
): Promise<CatalogSummary> {
  if (dialectOf(db).name !== 'sqlite') return catalogWithCache(db, source, options);
  const [before] = (await sql<{ cache_size: number }>`pragma cache_size`.execute(db)).rows;
  await sql.raw(`pragma cache_size = -${CATALOG_CACHE_KIB}`).execute(db);
  try {
    return await catalogWithCache(db, source, options);
  } finally {
    await sql.raw(`pragma cache_size = ${Number(before?.cache_size ?? -16_000)}`).execute(db);
  }
}

async function catalogWithCache(db: Db, source: SourceRow, options: CatalogOptions): Promise<CatalogSummary> {
  const now = () => (options.now?.() ?? new Date()).toISOString();
  const started = Date.now();
  try {
    const rootStat = await fs.promises.stat(source.path);
    if (!rootStat.isDirectory()) throw new Error('not a directory');
  } catch (error) {
    // An unmounted NAS must not turn into "every file is missing": refuse the scan, change nothing.
    throw new ArchivistError(
      'io',
      `source "${source.name}" is not reachable at ${source.path}: ${(error as Error).message}`,
      {
        retryable: true,
        cause: error,
        hint: errnoCode(error) === 'ENOENT' ? 'Is the disk or share mounted?' : undefined,
      },
    );
  }

  const localDisk = isLocalFilesystem(source.path);
  const batchSize = options.batchSize ?? DEFAULT_BATCH;
  const scanStartedAt = now();
  const lastIdBefore = await lastLocationId(db);
  const scanId = await startScan(db, source.id, scanStartedAt);

  const summary: CatalogSummary = {
    source: source.name,
    scanned: 0,
    new: 0,
    changed: 0,
    unchanged: 0,
    moved: 0,
    missing: 0,
    restored: 0,
    missingTotal: 0,
    hashed: 0,
    bytesHashed: 0,
    skipped: { junk: 0, symlinks: 0 },
    errors: [],
    sidecars: { linked: 0, unmatched: 0, relinked: false },
    durationMs: 0,
  };
  const unreadableDirs: string[] = [];
  // Known locations under a directory we could not list (or an entry we could not stat) are unknown now,
  // not missing.
  const isUnreadable = (rel: string) =>
    unreadableDirs.some((dir) => dir === '' || rel === dir || rel.startsWith(`${dir}/`));
  // The folders this walk listed: one short string per folder, so that known folders it never reached
  // (deleted, or an Archivist home) are found afterwards. Files are never held beyond a batch.
  const listedFolders = new Set<string>();
  let writes: CatalogWrite[] = [];
  const flush = async () => {
    const batch = writes;
    writes = [];
    await applyCatalogWrites(db, source.id, scanId, now(), batch);
  };
  const report = (rel: string, reason: string, message: string) =>
    summary.errors.push({ path: rel, reason, message });

  let lastProgress = 0;
  const progress = () => {
    if (!options.onProgress || Date.now() - lastProgress < 100) return;
    lastProgress = Date.now();
    options.onProgress({
      source: source.name,
      scanned: summary.scanned,
      hashed: summary.hashed,
      bytesHashed: summary.bytesHashed,
    });
  };

  const visit = async (
    file: WalkedFile,
    existing: LocationRow | undefined,
    twin: LocationRow | undefined,
  ): Promise<void> => {
    if (
      existing &&
      existing.size === file.size &&
      existing.mtime_ns === file.mtimeNs &&
      existing.inode === file.inode
    ) {
      // Same size, mtime and inode: unchanged, and not read again. This is what makes a re-scan cheap.
      if (existing.status === 'missing') {
        summary.restored++;
        writes.push({ kind: 'touch', locationId: existing.id, stats: statsOf(file) });
      } else {
        summary.unchanged++;
      }
      return;
    }
    if (file.size === 0) {
      report(file.rel, 'empty-file', 'zero-byte file: nothing to catalog');
      return;
    }

    let asset: NewAsset;
    if (twin && (await isGoneOrSameInode(sourceFilePath(source.path, twin.path), file.inode))) {
      // Moved (or hard-linked) within the filesystem: same inode, size and mtime means the same bytes.
      asset = { id: twin.asset_id, size: file.size, mediaType: 'other', mime: null };
    } else {
      try {
        const hashed = await hashSourceFile(file.abs, localDisk ? file.size : undefined);
        summary.hashed++;
        summary.bytesHashed += hashed.size;
        const kind = await detectMediaKind(hashed.head, file.rel);
        asset = { id: hashed.sha256, size: hashed.size, ...kind };
      } catch (error) {
        const reason = error instanceof SourceReadError ? error.reason : 'io-error';
        report(file.rel, reason, (error as Error).message);
        return;
      }
    }

    if (!existing) {
      summary.new++;
      writes.push({ kind: 'insert', path: file.rel, asset, stats: statsOf(file) });
    } else if (existing.asset_id === asset.id) {
      // Touched but the same bytes: only the recorded stats move on.
      if (existing.status === 'missing') summary.restored++;
      else summary.unchanged++;
      writes.push({ kind: 'touch', locationId: existing.id, stats: statsOf(file) });
    } else {
      summary.changed++;
      writes.push({
        kind: 'repoint',
        locationId: existing.id,
        previousAssetId: existing.asset_id,
        asset,
        stats: statsOf(file),
      });
    }
  };

  const inFlight = new Set<Promise<void>>();
  /** A batch of walked files: what the catalog knew at their paths and inodes, then each visited. */
  const visitBatch = async (files: WalkedFile[]) => {
    if (files.length === 0) return;
    const known = await locationsAtPaths(
      db,
      source.id,
      files.map((f) => f.rel),
    );
    const unknown = files.filter((f) => !known.has(f.rel));
    // (inode, size, mtime) of known files: a file moved within the filesystem keeps them, so it is not re-read.
    const byIdentity = await locationsWithInodes(
      db,
      source.id,
      unknown.map((f) => f.inode),
    );
    for (const file of files) {
      const existing = known.get(file.rel);
      const twin = existing ? undefined : byIdentity.get(`${file.inode}:${file.size}:${file.mtimeNs}`);
      const task = visit(file, existing, twin).finally(() => inFlight.delete(task));
      inFlight.add(task);
      if (inFlight.size >= options.hashConcurrency) await Promise.race(inFlight);
      if (writes.length >= batchSize) await flush();
      progress();
    }
  };
  /** A listed folder: its known locations the walk did not see there are gone (or moved, see below). */
  const reconcileFolder = async (dir: string, seen: Set<string>) => {
    listedFolders.add(dir);
    const gone = (await locationsInFolder(db, source.id, dir)).filter(
      (row) => !seen.has(row.path) && row.status === 'present' && !isUnreadable(row.path),
    );
    await markMissing(
      db,
      gone.map((row) => row.id),
      now(),
    );
    summary.missing += gone.length;
  };

  let batch: WalkedFile[] = [];
  let seenInFolder = new Set<string>();
  for await (const entry of walkSource(source.path, options.isJunk, { localDisk })) {
    switch (entry.kind) {
      case 'skip':
        if (entry.why === 'junk') summary.skipped.junk++;
        else summary.skipped.symlinks++;
        break;
      case 'problem':
        if (entry.reason.startsWith('symlink')) summary.skipped.symlinks++;
        // A directory that cannot be listed, or an entry that cannot even be stat'ed (a folder without
        // the x permission): what is known there is unknown now, not missing.
        if (entry.unreadableDir || entry.reason === 'permission-denied' || entry.reason === 'stat-failed') {
          unreadableDirs.push(entry.rel === '.' ? '' : entry.rel);
        }
        report(entry.rel, entry.reason, entry.message);
        break;
      case 'file':
        summary.scanned++;
        seenInFolder.add(entry.rel);
        batch.push(entry);
        if (batch.length >= batchSize) {
          await visitBatch(batch);
          batch = [];
        }
        break;
      case 'folder-done':
        await visitBatch(batch);
        batch = [];
        await reconcileFolder(entry.rel, seenInFolder);
        seenInFolder = new Set();
        break;
    }
  }
  await Promise.all(inFlight);
  await flush();

  // Known folders the walk never listed: deleted, or now an Archivist home. Their files are missing,
  // unless they sit under a folder that could not be read.
  let after: string | null = null;
  for (;;) {
    const dirs = await knownFolders(db, source.id, after, 500);
    if (dirs.length === 0) break;
    after = dirs.at(-1)!;
    for (const dir of dirs) {
      if (listedFolders.has(dir) || isUnreadable(dir)) continue;
      summary.missing += await markFolderMissing(db, source.id, dir, now());
    }
  }

  // A file gone from one place whose bytes arrived at another moved, across folders too.
  const moves = await reconcileMoves(db, {
    sourceId: source.id,
    scanId,
    afterId: lastIdBefore,
    scanStartedAt,
    pageSize: batchSize,
    isUnreadable,
  });
  summary.moved = moves.moved;
  summary.new -= moves.moved;
  summary.missing -= moves.newlyMissingMoved;
  summary.missingTotal = await countMissing(db, source.id);
  // After reconciliation: links are between present locations, so moves and deletions are settled first.
  summary.sidecars = await linkSidecars(db, source.id, {
    namesChanged: summary.new + summary.moved + summary.missing + summary.restored > 0,
  });
  // Pairs (Live Photos, RAW+JPEG) are by name within a folder: redone when any file came, went or changed.
  if (summary.new + summary.moved + summary.missing + summary.restored + summary.changed > 0)
    await indexRelationsOfSource(db, source.id);
  summary.durationMs = Date.now() - started;
  await finishScan(db, scanId, now(), summary);
  return summary;
}

async function isGoneOrSameInode(file: SourcePath, inode: string): Promise<boolean> {
  try {
    const stat = await fs.promises.lstat(file, { bigint: true });
    return stat.ino.toString() === inode;
  } catch {
    return true;
  }
}
