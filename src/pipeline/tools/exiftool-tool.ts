import fs from 'node:fs';
import path from 'node:path';
import type * as ExiftoolVendored from 'exiftool-vendored';
import type { ExifTool } from 'exiftool-vendored';
import type { OriginalFile } from '../../catalog/original-file.js';
import { fileFactsOf, needsSeeking, PIPE_MAX_BYTES, withFedPipe, type FileFacts } from './exiftool-input.js';
import { withBoxFileStandIn } from './box-file-stand-in.js';
import { runTool } from './run-tool.js';
import { findOnPath, firstLineOf, messageOf, tailOf, ToolError, type ToolReport } from './tool.js';

export interface ExiftoolReport extends ToolReport {
  name: 'exiftool';
  /** The perl that runs exiftool on POSIX; null on Windows, where the vendored exiftool bundles its own. */
  perl: string | null;
}

/**
 * Starts exiftool once through exiftool-vendored, asks its version, and ends it. The instance is our own,
 * not the package's shared singleton: ending the singleton would break any later user in this process.
 */
export async function detectExiftool(): Promise<ExiftoolReport> {
  const exiftool = new (await loadLibrary()).ExifTool({ maxProcs: 1 });
  let location: string | null = null;
  const perl = perlFor(exiftool);
  try {
    location = await exiftool.exiftoolPath();
    const version = await exiftool.version();
    return { name: 'exiftool', version, path: location, source: sourceOf(location), perl, ok: true };
  } catch (error) {
    return {
      name: 'exiftool',
      version: null,
      path: location,
      source: location ? sourceOf(location) : null,
      perl,
      ok: false,
      problem: `exiftool does not run: ${messageOf(error)}`,
      hint:
        process.platform === 'win32'
          ? 'Reinstall the dependencies (`npm ci`).'
          : 'exiftool is a Perl program: install perl (`apt-get install perl`), then `npm ci`.',
    };
  } finally {
    // Without this the exiftool child keeps the CLI alive after it has printed its answer.
    await exiftool.end();
  }
}

function sourceOf(location: string): ToolReport['source'] {
  return location.split(path.sep).includes('node_modules') ? 'npm' : 'system';
}

function perlFor(exiftool: ExifTool): string | null {
  if (process.platform === 'win32') return null;
  // exiftool's shebang names /usr/bin/perl; exiftool-vendored switches to the PATH's perl when it is absent.
  return exiftool.options.ignoreShebang ? findOnPath('perl') : '/usr/bin/perl';
}

/**
 * The exiftool port used by steps: one long-lived exiftool per process (`-stay_open`, through
 * exiftool-vendored), so a worker pays perl's start-up once, not per file. `maxProcs: 1` because a
 * worker handles one item at a time; the pool runs N workers, not N exiftools each. The child is ended
 * by `endExiftool()`, and as a backstop by batch-cluster's own `beforeExit`/`exit` hooks.
 */
let shared: Promise<ExifTool> | null = null;
let sharedVersion: Promise<string | null> | null = null;

// Imported on first use: the package takes about 60 ms to load, and most processes (the CLI listing or
// starting a run, a run's coordinator) never read a tag.
let library: Promise<typeof ExiftoolVendored> | null = null;
const loadLibrary = () => (library ??= import('exiftool-vendored'));

function instance(): Promise<ExifTool> {
  shared ??= loadLibrary().then(
    ({ ExifTool }) =>
      new ExifTool({
        maxProcs: 1,
        // A huge TIFF or a long video can take a while; beyond this the child is presumed stuck and replaced.
        taskTimeoutMillis: 60_000,
        // Our own reading of dates and zones applies (capture-time.ts); skip the library's inference work.
        backfillTimezones: false,
        // No retry inside the library: a task reads a pipe fed once (exiftool-input.ts), so a second
        // exiftool after a killed one would read nothing and call a good file unreadable. The worker tries
        // the item again instead (untilAborted marks such a failure retryable).
        taskRetries: 0,
      }),
  );
  return shared;
}

/**
 * exiftool's version (e.g. "13.59"), or null when it cannot be run (no perl). Asked once per process.
 * Read from the script itself (`my $version = '13.59';`, what `-ver` prints) when it says so: asking the
 * program means starting perl, a tenth of a second before a run's first item, in every process.
 */
export function exiftoolVersion(): Promise<string | null> {
  sharedVersion ??= versionInScript()
    .then(async (version) => version ?? (await instance()).version())
    .catch(() => null);
  return sharedVersion;
}

async function versionInScript(): Promise<string | null> {
  try {
    const script = await (await instance()).exiftoolPath();
    const handle = await fs.promises.open(script, 'r');
    try {
      const { buffer, bytesRead } = await handle.read(Buffer.alloc(4096), 0, 4096, 0);
      const match = /^my \$version = '(\d+\.\d+)';/m.exec(buffer.toString('latin1', 0, bytesRead));
      return match ? match[1]! : null;
    } finally {
      await handle.close();
    }
  } catch {
    return null;
  }
}

/** Ends the shared exiftool child, if one was started. Safe to call more than once. */
export async function endExiftool(): Promise<void> {
  const running = shared;
  shared = null;
  sharedVersion = null;
  // A library that failed to load started nothing.
  if (running)
    await running.then(
      (exiftool) => exiftool.end(),
      () => undefined,
    );
}

export type RawTags = Record<string, unknown>;

/**
 * What exiftool reads: a path of our own (a sidecar in a test, an artifact), or an original through its
 * checked descriptor, handed over as exiftool-input.ts says (the original's atime stays as it was).
 */
export type ExifSource = string | { original: OriginalFile; scratchDir: string };

const READ_ARGS = ['-G', '-n', '-fast', '-api', 'largefilesupport=1'];

/**
 * exiftool's own reading of a file, group-prefixed (`EXIF:DateTimeOriginal`, `QuickTime:CreateDate`: the
 * group says how to read a date) and numeric (`-n`: 0.004, not "1/250"). MWG composites are off: they
 * merge tags by rules of their own, and the precedence we apply must be the one we document.
 */
export async function readTags(
  source: ExifSource,
  signal: AbortSignal,
  tags: readonly string[] = [],
): Promise<RawTags> {
  const readArgs = [...READ_ARGS, ...tags.map((tag) => `-${tag}`)];
  const readRaw = (file: string, args = readArgs): Promise<RawTags> =>
    untilAborted<RawTags>(
      instance().then((exiftool) => exiftool.readRaw(file, { readArgs: args, useMWG: false })),
      signal,
    );
  if (typeof source === 'string') return readRaw(source);
  const { original, scratchDir } = source;
  const seeking = await needsSeeking(original);
  let read: RawTags;
  if (!seeking && original.size <= PIPE_MAX_BYTES) read = await withFedPipe(original, scratchDir, readRaw);
  else if (seeking && original.size <= PIPE_MAX_BYTES) {
    // Without -fast exiftool keeps what it read of the pipe in memory (at most PIPE_MAX_BYTES) and can
    // come back to the index after the media data.
    const args = readArgs.filter((arg) => arg !== '-fast');
    read = await withFedPipe(original, scratchDir, (pipe) => readRaw(pipe, args));
  } else if (!seeking) {
    read = await oneOff(original, scratchDir, [...readArgs, '-json'], signal).then(
      (stdout) => (JSON.parse(stdout.toString('utf8')) as RawTags[])[0] ?? {},
    );
  } else {
    // exiftool treats its stdin as a pipe: a large file with its index last is read from a sparse
    // stand-in of its boxes, or, failing that, by a name for the descriptor, a new open file without
    // O_NOATIME (see docs/principles.md, "Still an exception").
    const args = readArgs.filter((arg) => arg !== '-fast');
    read =
      (await withBoxFileStandIn(original, scratchDir, (file) => readRaw(file, args))) ??
      (await readRaw(original.descriptorPath));
  }
  return withFileFacts(
    read,
    original.path,
    fileFactsOf(await original.stat(), original.path),
    tags.length === 0,
  );
}

/** The original's own name and file-system facts in place of the pipe's (all of them for a full read). */
function withFileFacts(tags: RawTags, file: string, facts: FileFacts, all: boolean): RawTags {
  const merged: RawTags = { ...tags, SourceFile: file };
  for (const [key, value] of Object.entries(facts)) if (all || key in tags) merged[key] = value;
  return merged;
}

/** The bytes of a binary tag (an embedded preview JPEG), or a rejection when the file has none. */
export async function extractBinaryTag(
  tag: string,
  source: ExifSource,
  signal: AbortSignal,
): Promise<Buffer> {
  const extract = (file: string) =>
    untilAborted(
      instance().then((exiftool) => exiftool.extractBinaryTagToBuffer(tag, file)),
      signal,
    );
  if (typeof source === 'string') return extract(source);
  const { original, scratchDir } = source;
  if (original.size <= PIPE_MAX_BYTES) return withFedPipe(original, scratchDir, extract);
  // A binary tag of a large QuickTime-family file sits in its index, after the media data.
  if (await needsSeeking(original)) {
    return (
      (await withBoxFileStandIn(original, scratchDir, extract)) ?? (await extract(original.descriptorPath))
    );
  }
  const bytes = await oneOff(original, scratchDir, ['-b', `-${tag}`], signal);
  if (bytes.length === 0) throw new ToolError('exiftool', 'failed', `exiftool: no ${tag} in this file`);
  return bytes;
}

/**
 * A one-off exiftool reading the original as its stdin (`-`): a new open file of the descriptor, made by
 * runTool with O_NOATIME, seekable, so exiftool keeps nothing in memory it can read again.
 */
async function oneOff(
  original: OriginalFile,
  scratchDir: string,
  args: readonly string[],
  signal: AbortSignal,
): Promise<Buffer> {
  const exiftool = await instance();
  const script = await exiftool.exiftoolPath();
  const perl = perlFor(exiftool);
  const [executable, leading] = perl ? [perl, [script]] : [script, []];
  const { stdout } = await runTool('exiftool', executable, [...leading, ...args, '-'], {
    signal,
    stdinFd: original.fd,
    cwd: scratchDir,
    maxStdoutBytes: 256 * 1024 * 1024,
  });
  return stdout;
}

/**
 * batch-cluster's rejections when the exiftool child exits (killed, out of memory) with a task pending,
 * or dies as a task is handed to it (its stdin gone: EPIPE).
 */
const DIED_BEFORE_ANSWER =
  /^Process terminated before task completed|stdin unexpectedly closed|had no stdin|\bEPIPE\b|\bECONNRESET\b/;

/**
 * exiftool tasks cannot be cancelled one by one; on abort we stop waiting and let the child finish (or
 * be timed out by batch-cluster). Rejections become ToolErrors: `missing` when exiftool cannot start.
 */
async function untilAborted<T>(task: Promise<T>, signal: AbortSignal): Promise<T> {
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new ToolError('exiftool', 'aborted', 'exiftool: aborted'));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  // The task may still settle after an abort: keep that from being an unhandled rejection.
  task.catch(() => undefined);
  try {
    return await Promise.race([task, aborted]);
  } catch (error) {
    if (error instanceof ToolError) throw error;
    const message = messageOf(error);
    if (DIED_BEFORE_ANSWER.test(message)) {
      throw new ToolError('exiftool', 'failed', 'exiftool: its process ended before it answered', {
        stderrTail: tailOf(message),
        cause: error,
        retryable: true,
      });
    }
    const missing = /spawn|ENOENT|perl|not executable|startup/i.test(message);
    throw new ToolError('exiftool', missing ? 'missing' : 'failed', `exiftool: ${firstLineOf(message)}`, {
      stderrTail: tailOf(message),
      cause: error,
    });
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}
