import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Home } from '../home/home.js';
import type { HomeLayout } from '../home/home-path.js';
import { processAlive } from '../runs/detect-interrupted.js';
import { withWriteLock } from '../store/dialect.js';
import { lockStoreFiles, pathsWithRows } from '../store/store-files-repository.js';
import { absoluteArtifactPath } from './artifact-store.js';

/**
 * Orphans by design, not by luck (drill E, drill H). A worker renames an artifact into the store before
 * its row commits (a row must never point at nothing), so a process killed in between leaves a file no
 * row names. The rule that makes this safe:
 *
 * 1. Before a worker renames a file into the store it appends the file's store path to its journal,
 *    `<home>/tmp/stored-<pid>.list`. Every file in the store without a row is therefore named in the
 *    journal of the process that put it there (or is on its way to its row).
 * 2. A completion commits a row only if its file is in the store at that moment, checked inside the
 *    completion's transaction (pending-completions.ts); a file that vanished gives its item back.
 * 3. A sweep deletes a journaled file only inside a write transaction holding the store-files lock
 *    (store-files-repository.ts), and only if no row names it then. Completions hold the same lock, so a
 *    sweep and a commit never interleave: either the row is there and the file stays, or the file is gone
 *    and the completion sees it missing and commits nothing.
 * 4. A journal is swept when its process is gone (by the next coordinator, the coordinator that saw the
 *    worker die, and `gc`), and by the worker itself when it exits (its refused completions' files).
 *
 * Deleting a twin another live worker just renamed into the same content address is therefore safe too:
 * that worker's commit finds its file gone and its item is done again. A journal is cleared whenever
 * everything its process stored has been committed, so it stays a few lines long.
 */
const JOURNAL = /^stored-(\d+)\.list$/;

const write = promisify(fs.write);
/** A journal is cleared once it is this long and nothing it names waits for its row. */
const CLEAR_AFTER_BYTES = 64 * 1024;

export function journalPath(layout: HomeLayout, pid: number = process.pid): string {
  return path.join(layout.tmp, `stored-${pid}.list`);
}

let journal: { file: string; fd: number; bytes: number } | null = null;

/** Notes (rule 1) that this process is about to put `relative` into the store. */
export async function noteStoring(layout: HomeLayout, relative: string): Promise<void> {
  const file = journalPath(layout);
  // Opened once per process (O_APPEND: whole lines, whatever else this process writes meanwhile).
  if (journal?.file !== file) journal = { file, fd: fs.openSync(file, 'a'), bytes: 0 };
  const line = `${relative}\n`;
  journal.bytes += line.length;
  await write(journal.fd, line);
}

/**
 * Everything this process stored has its row (or was refused): the journal may start afresh. The caller
 * guarantees no store is in progress, so no line is being written; synchronous, so none can start.
 */
export function clearJournal(): void {
  if (!journal || journal.bytes < CLEAR_AFTER_BYTES) return;
  fs.ftruncateSync(journal.fd, 0);
  journal.bytes = 0;
}

/**
 * Rule 3 for one journal: deletes the files it names that no row names, then the journal. Returns how
 * many files were deleted.
 */
export async function sweepJournal(home: Home, file: string): Promise<number> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return 0; // swept already by another process
  }
  // A line cut short by a crash names no file of the store (paths are whole content addresses).
  const paths = [
    ...new Set(text.split('\n').filter((line) => /^[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f]{64}\.\w+$/.test(line))),
  ];
  let deleted = 0;
  if (paths.length > 0) {
    deleted = await withWriteLock(home.db, async (trx) => {
      await lockStoreFiles(trx, 'exclusive');
      const named = await pathsWithRows(trx, paths);
      let n = 0;
      for (const relative of paths.filter((p) => !named.has(p))) {
        try {
          fs.unlinkSync(absoluteArtifactPath(home.layout, relative));
          n++;
        } catch {
          // not there: never stored, or swept already
        }
      }
      return n;
    });
  }
  fs.rmSync(file, { force: true });
  return deleted;
}

/** This process's own journal, when it stops storing (its refused completions' files go). */
export async function sweepOwnJournal(home: Home): Promise<number> {
  if (journal) {
    fs.closeSync(journal.fd);
    journal = null;
  }
  return sweepJournal(home, journalPath(home.layout));
}

/** Sweeps the journals of processes that are gone (rule 4). Returns how many files were deleted. */
export async function reconcileStaleJournals(home: Home): Promise<number> {
  let names: string[];
  try {
    names = fs.readdirSync(home.layout.tmp);
  } catch {
    return 0;
  }
  let deleted = 0;
  for (const name of names) {
    const pid = JOURNAL.exec(name)?.[1];
    if (pid === undefined || Number(pid) === process.pid || processAlive(Number(pid))) continue;
    deleted += await sweepJournal(home, path.join(home.layout.tmp, name));
  }
  return deleted;
}
