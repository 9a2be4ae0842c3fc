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

// Every call here can wait on the disk (a create or a rename waits for the journal while other fsyncs
// commit it), so none is made on the worker's main thread: a wait there would stall the next item's
// tools. The callback forms cost less per call than FileHandle's, two artifacts per asset.
const open = promisify(fs.open);
const write = promisify(fs.write);
const fsync = promisify(fs.fsync);
const close = promisify(fs.close);
const rename = promisify(fs.rename);

async function fsyncDir(dir: string): Promise<void> {
  const fd = await open(dir, 'r');
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
    const fd = await open(temp, 'wx');
    try {
      // A regular file takes a write of a few kilobytes whole; the loop is for the rule, not the case.
      for (let done = 0; done < bytes.length;)
        done += (await write(fd, bytes, done, bytes.length - done, null)).bytesWritten;
      await fsync(fd);
    } finally {
      await close(fd);
    }
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const relative = storePath(sha256, extension);
    const final = absoluteArtifactPath(layout, relative);
    const dir = path.dirname(final);
    if (!madeDirs.has(dir)) {
      await fs.promises.mkdir(dir, { recursive: true });
      madeDirs.add(dir);
    }
    // Same hash, same bytes: if the file is already there, keep it and drop ours.
    try {
      await rename(temp, final);
    } catch (error) {
      // `gc` may have removed the directory since we made it.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      await fs.promises.mkdir(dir, { recursive: true });
      await rename(temp, final);
    }
    await fsyncDir(dir);
    return { sha256, size: bytes.length, path: relative };
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
