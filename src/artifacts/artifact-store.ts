import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { HomeLayout } from '../home/home-path.js';
import type { StepOutput } from '../pipeline/step.js';

export interface StoredFile {
  sha256: string;
  size: number;
  /** Relative to the artifact store, `/`-separated. */
  path: string;
}

/** Where content with this hash lives: fanned out so no directory holds millions of files. */
export function storePath(sha256: string, extension: string): string {
  return `${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}.${extension}`;
}

export function absoluteArtifactPath(layout: HomeLayout, relative: string): string {
  return path.join(layout.artifacts, ...relative.split('/'));
}

// fsync is the one slow call here (a journal commit, milliseconds on a busy disk), so it goes to the
// thread pool and overlaps the worker's next item. The other calls on a file of a few kilobytes (open,
// write, rename, close) take microseconds: made directly, they cost less than a thread-pool round trip
// each, which at two artifacts per asset was a measurable share of a worker's own CPU.
const fsyncFd = promisify(fs.fsync);

async function fsyncDir(dir: string): Promise<void> {
  const fd = fs.openSync(dir, 'r');
  try {
    await fsyncFd(fd);
  } finally {
    fs.closeSync(fd);
  }
}

async function hashFile(file: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of fs.createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

/** Directories of the store known to exist, so the fan-out is made once per process, not per file. */
const madeDirs = new Set<string>();

/**
 * Puts a step's output into the content-addressed store: write to a temp file under the home, fsync,
 * rename into place, fsync the directory. Only after this returns may the database row be committed:
 * a half-written file must never be visible, and a row must never point at nothing.
 */
export async function storeArtifactFile(layout: HomeLayout, output: StepOutput): Promise<StoredFile> {
  if (output.bytes) return storeBytes(layout, output.bytes, output.extension);
  if (!output.file) throw new Error('a step output needs bytes or a file');
  const temp = tempPath(layout);
  try {
    // A step's scratch file is already under the home: move it rather than copy it.
    await fs.promises.rename(output.file, temp);
    const { sha256, size } = await hashFile(temp);
    const handle = await fs.promises.open(temp, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    const relative = storePath(sha256, output.extension);
    const final = absoluteArtifactPath(layout, relative);
    await fs.promises.mkdir(path.dirname(final), { recursive: true });
    // Same hash, same bytes: if the file is already there, keep it and drop ours.
    await fs.promises.rename(temp, final);
    await fsyncDir(path.dirname(final));
    return { sha256, size, path: relative };
  } finally {
    await fs.promises.rm(temp, { force: true });
  }
}

/**
 * The same steps for an output held in memory (a thumbnail, a metadata document: kilobytes). The fsyncs
 * are the slow part (a journal commit each, milliseconds on a busy disk); the worker runs this while its
 * next item's tool works, so they cost no time of their own.
 */
async function storeBytes(layout: HomeLayout, bytes: Buffer, extension: string): Promise<StoredFile> {
  const temp = tempPath(layout);
  try {
    const fd = fs.openSync(temp, 'wx');
    try {
      fs.writeFileSync(fd, bytes);
      await fsyncFd(fd);
    } finally {
      fs.closeSync(fd);
    }
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const relative = storePath(sha256, extension);
    const final = absoluteArtifactPath(layout, relative);
    const dir = path.dirname(final);
    if (!madeDirs.has(dir)) {
      fs.mkdirSync(dir, { recursive: true });
      madeDirs.add(dir);
    }
    // Same hash, same bytes: if the file is already there, keep it and drop ours.
    try {
      fs.renameSync(temp, final);
    } catch (error) {
      // `gc` may have removed the directory since we made it.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      fs.mkdirSync(dir, { recursive: true });
      fs.renameSync(temp, final);
    }
    await fsyncDir(dir);
    return { sha256, size: bytes.length, path: relative };
  } catch (error) {
    fs.rmSync(temp, { force: true });
    throw error;
  }
}

function tempPath(layout: HomeLayout): string {
  return path.join(layout.tmp, `artifact-${process.pid}-${randomBytes(6).toString('hex')}`);
}

/** True when the store holds a file with the expected size: a reused artifact must really be there. */
export function artifactFileExists(layout: HomeLayout, relative: string, size: number): boolean {
  try {
    return fs.statSync(absoluteArtifactPath(layout, relative)).size === size;
  } catch {
    return false;
  }
}

/** Reads a stored artifact; refuses any path outside the store, so this can never reach an original. */
export function readStoredArtifact(layout: HomeLayout, absolute: string): Buffer {
  const relative = path.relative(layout.artifacts, absolute);
  if (relative.startsWith('..') || path.isAbsolute(relative))
    throw new Error(`${absolute} is not in the artifact store`);
  return fs.readFileSync(absolute);
}
