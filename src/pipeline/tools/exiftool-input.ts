import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import type { OriginalFile } from '../../catalog/original-file.js';
import { errnoCode } from '../../errors.js';
import { scratchNameFor, topLevelBoxes } from './box-file-stand-in.js';
import { ToolError } from './tool.js';

/**
 * How exiftool reads an original without the kernel recording an access. exiftool runs long-lived
 * (`-stay_open`) and opens what it is told by name; any name for the original (the cataloged path, a
 * link to /proc/<pid>/fd/<n>) makes a new open file without our O_NOATIME, and its reads change the
 * original's atime (always under `strictatime`; under `relatime` daily, or when atime <= mtime). So
 * exiftool is handed a named pipe in the worker's scratch folder instead, and this process writes the
 * original into it, read through the descriptor the source reader opened (O_NOATIME where allowed).
 * exiftool reads a pipe as it reads a file, keeping what it read in memory when it must seek back
 * (File::RandomAccess), so the pipe is used up to PIPE_MAX_BYTES; a larger original (a long video),
 * or one it must seek in (see needsSeeking), is read by a one-off exiftool whose stdin is the descriptor (seekable, no copy in memory), which
 * costs perl's start-up, a few tenths of a second, beside the minutes such a file takes elsewhere.
 */
export const PIPE_MAX_BYTES = 128 * 1024 * 1024;

const execFileAsync = promisify(execFile);
const { O_RDONLY, O_WRONLY, O_NONBLOCK } = fs.constants;
const openAsync = promisify(fs.open);
let pipes = 0;

/**
 * Runs `read` with the path of a named pipe fed with the original's content for each time `read`'s
 * exiftool opens it; the pipe keeps the original's extension (exiftool tells NEF, DNG and ARW from TIFF
 * by it) and is removed afterwards.
 */
export async function withFedPipe<T>(
  original: OriginalFile,
  scratchDir: string,
  read: (pipePath: string) => Promise<T>,
): Promise<T> {
  const pipePath = scratchNameFor(original, scratchDir, 'original', ++pipes);
  await takeFifo(scratchDir, pipePath);
  let over = false;
  const stop: (() => void)[] = [];
  const feeding = feed(pipePath, original, () => over, stop);
  try {
    return await read(pipePath);
  } finally {
    over = true;
    // exiftool answered, so it is done with the pipe: stop writing what it will never read.
    for (const halt of stop) halt();
    // A feed still waiting in its open (exiftool answered without opening the pipe: a refused command, an
    // abort) is let go by a reader of our own, which a non-blocking open makes at once.
    const release = openQuietly(pipePath, O_RDONLY | O_NONBLOCK);
    await feeding;
    if (release !== undefined) fs.closeSync(release);
    await fs.promises.unlink(pipePath).catch(() => undefined);
  }
}

function openQuietly(file: string, flags: number): number | undefined {
  try {
    return fs.openSync(file, flags);
  } catch {
    return undefined;
  }
}

/**
 * FIFOs made ahead, SPARE_BATCH per mkfifo call. Node has no mkfifo, and spawning coreutils' for every
 * file cost a worker 3-9 ms of its main thread each time (a fork of a process of a few hundred MB), the
 * largest cost of a JPEG's metadata step. Each FIFO is still used for one read only: a reused one could
 * pair a new writer with the last reader before it closed. Spares left at exit go with the scratch
 * folder (scratch-dirs.ts).
 */
const SPARE_BATCH = 32;
const spares = new Map<string, { names: string[]; making: Promise<void> | null }>();
let spareNames = 0;

/** A FIFO made ahead, renamed to `pipePath` (the original's extension): rename(2) in one folder, no child. */
async function takeFifo(scratchDir: string, pipePath: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await fs.promises.rename(await spareFifo(scratchDir), pipePath);
      return;
    } catch (error) {
      // The scratch folder was emptied under the stash (its clean-up): make new ones, once.
      if (errnoCode(error) !== 'ENOENT' || attempt > 1) throw error;
      spares.delete(scratchDir);
    }
  }
}

async function spareFifo(scratchDir: string): Promise<string> {
  let stash = spares.get(scratchDir);
  if (!stash) spares.set(scratchDir, (stash = { names: [], making: null }));
  while (stash.names.length === 0) {
    stash.making ??= makeSpares(scratchDir, stash.names).finally(() => (stash.making = null));
    await stash.making;
  }
  return stash.names.pop()!;
}

async function makeSpares(scratchDir: string, into: string[]): Promise<void> {
  const names = Array.from({ length: SPARE_BATCH }, () =>
    path.join(scratchDir, `spare-fifo-${process.pid}-${++spareNames}`),
  );
  // Mode 600: only this user may read them.
  await execFileAsync('mkfifo', ['-m', '600', ...names]).catch(
    (error: Error & { signal?: string | null }) => {
      for (const name of names) fs.rmSync(name, { force: true });
      // mkfifo killed by a signal (the OOM killer, a SIGKILL to the worker's group) says nothing of the
      // file: tried again, like any tool that died before it answered (drill H caught it as step-error).
      throw new ToolError(
        'mkfifo',
        'failed',
        `mkfifo: ${error.signal ? `killed by ${error.signal}` : error.message}`,
        { cause: error, retryable: Boolean(error.signal) },
      );
    },
  );
  into.push(...names);
}

/**
 * Feeds the pipe once exiftool has opened it. The open for writing blocks until a reader is there, so
 * it runs in a libuv thread and returns the moment exiftool opens its end: polling a non-blocking open
 * instead (ENXIO until then) cost 2-3 ms of waiting per file, a quarter of a JPEG's metadata step. Should
 * exiftool never open it, `withFedPipe` lets the open through with a reader of its own. A reader that
 * stops early (a JPEG read with -fast) closes its end, which ends the write.
 */
async function feed(
  pipePath: string,
  original: OriginalFile,
  over: () => boolean,
  stop: (() => void)[],
): Promise<void> {
  let fd: number;
  try {
    fd = await openAsync(pipePath, O_WRONLY);
  } catch {
    return;
  }
  if (over()) {
    fs.closeSync(fd);
    return;
  }
  const socket = new net.Socket({ fd, readable: false, writable: true });
  const content = original.stream();
  stop.push(() => socket.destroy());
  // EPIPE (the reader closed its end) or a destroy from `stop` are the normal ways for this to end early.
  await pipeline(content, socket).catch(() => undefined);
}

/** Top-level boxes of the QuickTime family (MOV, MP4, HEIF, CR3): how such a file may begin. */
const QUICKTIME_FIRST = new Set(['ftyp', 'moov', 'mdat', 'wide', 'free', 'skip', 'pnot', 'uuid']);

/**
 * Whether exiftool must be able to seek in this file: a QuickTime-family file (an MP4 or MOV as cameras
 * and ffmpeg write them) whose index (`moov`, or a HEIF's `meta`) comes after its media data. exiftool
 * reading a pipe in its -fast mode stops at the media data (it keeps nothing in memory then, so it cannot
 * come back), and the tags in the index would be lost; such a file goes to the one-off exiftool instead.
 * A few positional reads of box headers through the descriptor.
 */
export async function needsSeeking(original: OriginalFile): Promise<boolean> {
  let first = true;
  for await (const { type } of topLevelBoxes(original, 64)) {
    if (first && !QUICKTIME_FIRST.has(type)) return false;
    first = false;
    if (type === 'moov' || type === 'meta') return false;
    if (type === 'mdat') return true;
  }
  return false;
}

/** The file-system tags exiftool reports, as it would have for the original itself. */
export type FileFacts = Record<string, string | number>;

/**
 * exiftool's File group describes what it opened: the pipe (no size, its own dates and mode) or stdin.
 * These are the original's, from the descriptor, in exiftool's own form (`-n`: bytes, local time with
 * the zone, the mode as octal digits).
 */
export function fileFactsOf(stat: fs.BigIntStats, file: string): FileFacts {
  return {
    'File:FileName': path.basename(file),
    'File:Directory': path.dirname(file),
    'File:FileSize': Number(stat.size),
    'File:FileModifyDate': exifDate(stat.mtimeMs),
    'File:FileAccessDate': exifDate(stat.atimeMs),
    'File:FileInodeChangeDate': exifDate(stat.ctimeMs),
    'File:FilePermissions': Number(Number(stat.mode).toString(8)),
  };
}

/** "2026:12:01 15:35:05+01:00": local time, as exiftool prints a file's dates. */
function exifDate(ms: bigint): string {
  const date = new Date(Number(ms));
  const two = (n: number) => String(n).padStart(2, '0');
  const offset = -date.getTimezoneOffset();
  const zone = `${offset < 0 ? '-' : '+'}${two(Math.floor(Math.abs(offset) / 60))}:${two(Math.abs(offset) % 60)}`;
  return (
    `${date.getFullYear()}:${two(date.getMonth() + 1)}:${two(date.getDate())} ` +
    `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}${zone}`
  );
}
