import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { HomeLayout } from '../home/home-path.js';
import type { StepOutput } from '../pipeline/step.js';
import { noteStoring } from './store-journal.js';

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

// Every call here can wait on the disk (a create or a rename waits for the journal while other fsyncs
// commit it), so none is made on the worker's main thread: a wait there would stall the next item's
// tools. The callback forms cost less per call than FileHandle's, two artifacts per asset.
const open = promisify(fs.open);
const writeFile = promisify(fs.writeFile);
const fsync = promisify(fs.fsync);
const close = promisify(fs.close);
const rename = promisify(fs.rename);

/** fsync a file by name (`r+`: opened for writing, as some systems require) or a directory (`r`). */
async function fsyncPath(target: string, flags: 'r' | 'r+'): Promise<void> {
  const fd = await open(target, flags);
  try {
    await fsync(fd);
  } finally {
    await close(fd);
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
 * The last two steps for a complete, fsynced temp file: rename it to its content address, then fsync the
 * directory so the rename itself survives a crash. Same hash, same bytes: a file already there is simply
 * replaced by its twin.
 */
async function moveIntoStore(layout: HomeLayout, temp: string, sha256: string, extension: string) {
  const relative = storePath(sha256, extension);
  const final = absoluteArtifactPath(layout, relative);
  const dir = path.dirname(final);
  // Named in this process's journal first: a file in the store without its row is always found again.
  await noteStoring(layout, relative);
  if (!madeDirs.has(dir)) {
    await fs.promises.mkdir(dir, { recursive: true });
    madeDirs.add(dir);
  }
  try {
    await rename(temp, final);
  } catch (error) {
    // `gc` may have removed the directory since we made it.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    await fs.promises.mkdir(dir, { recursive: true });
    await rename(temp, final);
  }
  await fsyncPath(dir, 'r');
  return relative;
}

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
    await rename(output.file, temp);
    const { sha256, size } = await hashFile(temp);
    await fsyncPath(temp, 'r+');
    return { sha256, size, path: await moveIntoStore(layout, temp, sha256, output.extension) };
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
    const fd = await open(temp, 'wx');
    try {
      await writeFile(fd, bytes);
      await fsync(fd);
    } finally {
      await close(fd);
    }
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    return { sha256, size: bytes.length, path: await moveIntoStore(layout, temp, sha256, extension) };
  } catch (error) {
    await fs.promises.rm(temp, { force: true });
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
