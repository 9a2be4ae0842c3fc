import fs from 'node:fs';
import path from 'node:path';
import type { Home } from '../home/home.js';
import {
  isScratchDirName,
  ownerIsGone,
  ownerOfTmpEntry,
  removeScratchDir,
  staleScratchDirs,
} from '../runs/scratch-dirs.js';
import { reconcileStaleJournals } from './store-journal.js';
import { deleteArtifactRecords, expiredArtifacts, referencedPaths } from '../store/artifacts-repository.js';
import { STORE_ID_FILE } from './store-identity.js';

/**
 * A file younger than this is never an orphan: a worker renames its artifact into the store a moment
 * before it commits the row, and gc must not win that race.
 */
const ORPHAN_GRACE_MS = 60 * 60 * 1000;
/** Scratch and temp files older than this belong to nothing that is still running. */
const TEMP_GRACE_MS = 24 * 60 * 60 * 1000;

export interface GcReport {
  dryRun: boolean;
  expiredArtifacts: number;
  orphanFiles: number;
  orphanBytes: number;
  tempEntries: number;
  keptFiles: number;
}

/**
 * Deletes expired sandbox artifacts (record and lineage; the file when nothing else points to it),
 * files in the store no record points to, and stale temp files. Never a file any record points to.
 */
export async function collectGarbage(
  home: Home,
  options: { dryRun: boolean; now?: number },
): Promise<GcReport> {
  const now = options.now ?? Date.now();
  const report: GcReport = {
    dryRun: options.dryRun,
    expiredArtifacts: 0,
    orphanFiles: 0,
    orphanBytes: 0,
    tempEntries: 0,
    keptFiles: 0,
  };

  // Files that dead workers put in the store and never committed: named in their journals, gone at once
  // (store-journal.ts); the age rule below is for what no journal names (a power loss, an old home).
  if (!options.dryRun) report.orphanFiles += await reconcileStaleJournals(home);

  const expired = await expiredArtifacts(home.db, new Date(now).toISOString());
  report.expiredArtifacts = expired.length;
  if (!options.dryRun)
    await deleteArtifactRecords(
      home.db,
      expired.map((a) => a.id),
    );
  // In a dry run the expired rows still exist: leave them out, so both modes count the same files.
  const referenced = await referencedPaths(
    home.db,
    expired.map((a) => a.id),
  );

  const files = fs
    .readdirSync(home.layout.artifacts, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile());
  for (const entry of files) {
    const absolute = path.join(entry.parentPath, entry.name);
    const relative = path.relative(home.layout.artifacts, absolute).split(path.sep).join('/');
    // The store's id file names the archive it belongs to: it is never an orphan. `.tmp/<host>/` holds
    // the temp files of workers on other hosts (renamed into place from there): theirs to clean.
    if (referenced.has(relative) || relative === STORE_ID_FILE || relative.startsWith('.tmp/')) {
      report.keptFiles++;
      continue;
    }
    const stat = fs.statSync(absolute);
    if (now - stat.mtimeMs < ORPHAN_GRACE_MS && !expired.some((a) => a.path === relative)) {
      report.keptFiles++;
      continue;
    }
    report.orphanFiles++;
    report.orphanBytes += stat.size;
    if (!options.dryRun) fs.rmSync(absolute, { force: true });
  }

  // A worker's scratch folder is stale when its process is gone, and never while it lives, whatever its age.
  const staleScratch = new Set(staleScratchDirs(home.layout));
  for (const name of fs.readdirSync(home.layout.tmp)) {
    const absolute = path.join(home.layout.tmp, name);
    if (isScratchDirName(name)) {
      if (!staleScratch.has(absolute)) continue;
      report.tempEntries++;
      if (!options.dryRun) removeScratchDir(absolute);
      continue;
    }
    // A partial temp artifact or a disk reserve of a process that is gone (killed mid-write, say on a full
    // disk) goes at once; one of a live process never, however old; a live store journal is never
    // removed (rule 1 of store-journal.ts), a dead one's was swept above.
    const owner = ownerOfTmpEntry(name);
    if (owner !== undefined) {
      if (!ownerIsGone(name) || name.startsWith('stored-')) continue;
    } else if (now - fs.statSync(absolute).mtimeMs < TEMP_GRACE_MS) continue;
    report.tempEntries++;
    if (!options.dryRun) fs.rmSync(absolute, { recursive: true, force: true });
  }
  return report;
}
