import { ArchivistError, errnoCode } from '../errors.js';
import { diskSpace, formatSize } from './disk-threshold.js';

/**
 * A really full disk (drill I): not the `--min-free` threshold, which pauses before writing, but a write
 * that the filesystem refused. It can come from anywhere the home is written: an artifact's temp file or
 * rename (ENOSPC), the database (SQLITE_FULL, PostgreSQL's 53100 disk_full), the run log, a tool writing
 * its intermediate file in the scratch folder. Wherever it comes from it means the same thing: nothing is
 * wrong with the item, so no attempt is charged; the run pauses with reason `disk-full` and the figures.
 */
const DISK_FULL_CODES = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL', '53100']);
/** What the tools (ffmpeg, exiftool, vips) and SQLite print when the kernel said ENOSPC. */
const DISK_FULL_TEXT = /No space left on device|database or disk is full|Disk quota exceeded|ENOSPC/i;

/** Whether an error (or any error in its `cause` chain) is a full disk. */
export function isDiskFull(error: unknown): boolean {
  for (let e = error, depth = 0; e && depth < 8; depth++) {
    const code = errnoCode(e);
    if (code && DISK_FULL_CODES.has(code)) return true;
    if (e instanceof Error && DISK_FULL_TEXT.test(e.message)) return true;
    e = e instanceof Error ? e.cause : undefined;
  }
  return false;
}

/** Whether a tool's message or stderr says the disk was full. */
export function saysDiskFull(text: string | null | undefined): boolean {
  return !!text && DISK_FULL_TEXT.test(text);
}

/** "0 B free of 8.39 MB" for the filesystem holding `dir`; a statfs that fails is said so. */
export function spaceFigures(dir: string): string {
  try {
    const { free, total } = diskSpace(dir);
    return `${formatSize(free)} free of ${formatSize(total)}`;
  } catch {
    return 'free space unknown';
  }
}

/** The run's status reason: `disk-full: 0 B free of 8.39 MB on /home/…: writing the artifact failed (ENOSPC)`. */
export function diskFullReason(dir: string, what: string, error: unknown): string {
  const code = codeOf(error);
  return `disk-full: ${spaceFigures(dir)} on ${dir}: ${what} failed${code ? ` (${code})` : ''}`;
}

function codeOf(error: unknown): string | undefined {
  for (let e = error, depth = 0; e && depth < 8; depth++) {
    const code = errnoCode(e);
    if (code && DISK_FULL_CODES.has(code)) return code === '53100' ? 'disk_full' : code;
    e = e instanceof Error ? e.cause : undefined;
  }
  return undefined;
}

/**
 * What a command says when its write was refused by a full disk: one line with the figures instead of
 * a stack trace (or a "cannot rollback" that hides it), and what to do. Reads still work on a full disk.
 */
export function diskFullError(dir: string, error: unknown): ArchivistError {
  return new ArchivistError(
    'io',
    `the disk holding ${dir} is full (${spaceFigures(dir)}): ${firstLine(error)}`,
    {
      cause: error,
      retryable: true,
      hint: 'Free some space on that disk and try again; a run paused for it continues with `archivist run resume <run>`.',
    },
  );
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}

/** Less free space than this when a step failed or a worker died: the failure is taken for the disk's. */
const NEARLY_FULL_BYTES = 64 * 1024;

/** Whether the disk holding `dir` has (almost) nothing left; a statfs that fails says no. */
export function isNearlyFull(dir: string): boolean {
  try {
    return diskSpace(dir).free < NEARLY_FULL_BYTES;
  } catch {
    return false;
  }
}
