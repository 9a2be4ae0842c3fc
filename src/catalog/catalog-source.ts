import fs from 'node:fs';
import path from 'node:path';
import { ArchivistError, errnoCode } from '../errors.js';
import type { Db } from '../store/database.js';
import {
  applyCatalogWrites,
  countMissing,
  loadLocations,
  locationsFirstSeenIn,
  markMissing,
  recordMoves,
  type CatalogWrite,
  type FileStats,
} from '../store/locations-repository.js';
import { finishScan, startScan } from '../store/scans-repository.js';
import type { LocationRow, SourceRow } from '../store/schema.js';
import { sourceFilePath } from './file-names.js';
import { detectMediaKind } from './media-type.js';
import { linkSidecars, type SidecarLinkSummary } from './sidecar-links.js';
import { hashSourceFile, isLocalFilesystem, SourceReadError, type SourcePath } from './source-reader.js';
import { walkSource } from './walk-source.js';

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
}

/** Writes are flushed in batches: few transactions, yet a crash loses at most one batch of hashing. */
const FLUSH_EVERY = 2000;

function statsOf(file: { size: number; mtimeNs: string; ctimeNs: string; inode: string }): FileStats {
  return { size: file.size, mtimeNs: file.mtimeNs, ctimeNs: file.ctimeNs, inode: file.inode };
}

export async function catalogSource(
  db: Db,
  source: SourceRow,
  options: CatalogOptions,
): Promise<CatalogSummary> {
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
  const scanId = await startScan(db, source.id, now());
  const known = await loadLocations(db, source.id);
  // (inode, size, mtime) of known files: a file moved within the filesystem keeps them, so it need not be re-read.
  const byIdentity = new Map<string, LocationRow>();
  for (const row of known.values()) byIdentity.set(`${row.inode}:${row.size}:${row.mtime_ns}`, row);

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
  const seen = new Set<number>();
  const unreadableDirs: string[] = [];
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

  const visit = async (file: { rel: string; abs: SourcePath } & FileStats): Promise<void> => {
    const existing = known.get(file.rel);
    if (existing) seen.add(existing.id);
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

    const twin = existing ? undefined : byIdentity.get(`${file.inode}:${file.size}:${file.mtimeNs}`);
    let asset: {
      id: string;
      size: number;
      mediaType: 'image' | 'video' | 'sidecar' | 'other';
      mime: string | null;
    };
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
      writes.push({ kind: 'repoint', locationId: existing.id, asset, stats: statsOf(file) });
    }
  };

  const inFlight = new Set<Promise<void>>();
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
      case 'file': {
        summary.scanned++;
        const task = visit(entry).finally(() => inFlight.delete(task));
        inFlight.add(task);
        if (inFlight.size >= options.hashConcurrency) await Promise.race(inFlight);
        if (writes.length >= FLUSH_EVERY) await flush();
        progress();
        break;
      }
    }
  }
  await Promise.all(inFlight);
  await flush();

  // Known locations this walk did not see are gone, unless they sit under a directory we could not list.
  const underUnreadable = (rel: string) =>
    unreadableDirs.some((dir) => dir === '' || rel === dir || rel.startsWith(`${dir}/`));
  const vanished = [...known.values()].filter((row) => !seen.has(row.id) && !underUnreadable(row.path));

  // A vanished file whose content appeared at a new path moved; pair them, same file name first.
  const arrivals = new Map<string, { id: number; path: string }[]>();
  for (const row of await locationsFirstSeenIn(db, scanId)) {
    const list = arrivals.get(row.asset_id) ?? [];
    list.push(row);
    arrivals.set(row.asset_id, list);
  }
  const moves: { fromId: number; toId: number; firstSeenAt: string }[] = [];
  const newlyMissing: number[] = [];
  for (const row of vanished) {
    const candidates = arrivals.get(row.asset_id);
    if (candidates && candidates.length > 0) {
      const sameName = candidates.findIndex(
        (c) => path.posix.basename(c.path) === path.posix.basename(row.path),
      );
      const [to] = candidates.splice(sameName >= 0 ? sameName : 0, 1);
      moves.push({ fromId: row.id, toId: to!.id, firstSeenAt: row.first_seen_at });
      summary.moved++;
      summary.new--;
    } else if (row.status === 'present') {
      newlyMissing.push(row.id);
    }
  }
  await recordMoves(db, moves);
  await markMissing(db, newlyMissing, now());
  summary.missing = newlyMissing.length;
  summary.missingTotal = await countMissing(db, source.id);
  // After reconciliation: links are between present locations, so moves and deletions are settled first.
  summary.sidecars = await linkSidecars(db, source.id, {
    namesChanged: summary.new + summary.moved + summary.missing + summary.restored > 0,
  });
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
