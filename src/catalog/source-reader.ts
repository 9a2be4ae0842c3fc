import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { ArchivistError, errnoCode } from '../errors.js';
import { fsErrorMessage, pathText } from './file-names.js';

/**
 * The only code in Archivist that opens files under a source (test/unit/read-only-guard.test.ts fails if
 * another module does). Every open is O_RDONLY; O_NOATIME keeps even the access time untouched where the
 * kernel allows it (it is refused with EPERM for files we do not own, so we retry without it);
 * O_NOFOLLOW refuses a file swapped for a symlink after it was listed; O_NONBLOCK keeps a FIFO from
 * hanging the scan, and the fstat check below refuses anything that is not a regular file.
 */
const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
const O_NOATIME = (fs.constants as Record<string, number>).O_NOATIME ?? 0;
const BASE_FLAGS = O_RDONLY | O_NOFOLLOW | O_NONBLOCK;

/**
 * The flags for a path. `/proc/<our pid>/fd/<n>` (see `pathForTools`) is a link to a file this process
 * already opened with the flags above, so it alone is opened through.
 */
function flagsFor(file: SourcePath): number {
  return typeof file === 'string' && file.startsWith(`/proc/${process.pid}/fd/`)
    ? BASE_FLAGS & ~O_NOFOLLOW
    : BASE_FLAGS;
}

/** A path as fs takes it: the exact bytes where a name is not UTF-8 (see file-names.ts). */
export type SourcePath = string | Buffer;

/** Bytes read at a time while hashing; large enough that a 10 MB photo is ten reads. */
const CHUNK = 1024 * 1024;
/** What media sniffing needs from the head of a file. */
export const HEAD_BYTES = 4100;

export type ReadFailure =
  | 'permission-denied'
  | 'not-found'
  | 'not-a-regular-file'
  | 'changed-during-read'
  | 'source-changed'
  | 'io-error';

export class SourceReadError extends ArchivistError {
  readonly reason: ReadFailure;
  constructor(reason: ReadFailure, message: string, cause?: unknown) {
    super('io', message, { cause, retryable: reason === 'changed-during-read' || reason === 'io-error' });
    this.reason = reason;
  }
}

function classify(error: unknown, file: SourcePath): SourceReadError {
  if (error instanceof SourceReadError) return error;
  const code = errnoCode(error);
  const message = `${pathText(file)}: ${fsErrorMessage(error, file)}`;
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return new SourceReadError('permission-denied', message, error);
    case 'ENOENT':
      return new SourceReadError('not-found', message, error);
    case 'ELOOP': // O_NOFOLLOW met a symlink
      return new SourceReadError(
        'not-a-regular-file',
        `${pathText(file)} is a symlink now: refused (an original is never read through a link)`,
        error,
      );
    case 'EISDIR':
      return new SourceReadError('not-a-regular-file', message, error);
    default:
      return new SourceReadError('io-error', message, error);
  }
}

/** Opens a source file for reading only. The caller must close the handle. */
export async function openSourceFile(file: SourcePath): Promise<fs.promises.FileHandle> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, flagsFor(file) | O_NOATIME);
  } catch (error) {
    if (O_NOATIME === 0 || errnoCode(error) !== 'EPERM') throw classify(error, file);
    try {
      handle = await fs.promises.open(file, flagsFor(file));
    } catch (retryError) {
      throw classify(retryError, file);
    }
  }
  const stat = await handle.stat();
  if (!stat.isFile()) {
    await handle.close();
    throw new SourceReadError('not-a-regular-file', `${pathText(file)} is not a regular file`);
  }
  return handle;
}

export interface HashedFile {
  sha256: string;
  size: number;
  /** The first bytes, for media sniffing, read in the same pass as the hash. */
  head: Buffer;
}

/** Files up to this size are read with synchronous calls: on a cached or local file, one blocking syscall
 * costs microseconds, while each async call costs a thread-pool round trip (tens of microseconds). */
const SYNC_MAX = CHUNK;
const syncBuffer = Buffer.allocUnsafe(SYNC_MAX + 1);

function openSync(file: SourcePath): number {
  try {
    return fs.openSync(file, flagsFor(file) | O_NOATIME);
  } catch (error) {
    if (O_NOATIME === 0 || errnoCode(error) !== 'EPERM') throw classify(error, file);
    try {
      return fs.openSync(file, flagsFor(file));
    } catch (retryError) {
      throw classify(retryError, file);
    }
  }
}

/** The small-file path: open, fstat, read into a shared buffer, fstat, close; nothing awaited in between. */
function hashSmallFileSync(file: SourcePath): HashedFile | undefined {
  const fd = openSync(file);
  try {
    const before = fs.fstatSync(fd, { bigint: true });
    if (!before.isFile())
      throw new SourceReadError('not-a-regular-file', `${pathText(file)} is not a regular file`);
    if (before.size > BigInt(SYNC_MAX)) return undefined;
    const hash = createHash('sha256');
    let size = 0;
    for (;;) {
      const bytesRead = fs.readSync(fd, syncBuffer, size, syncBuffer.length - size, size);
      size += bytesRead;
      // At the size fstat gave, stop: a file that grew meanwhile fails the size check below.
      if (bytesRead === 0 || size >= Number(before.size) || size >= syncBuffer.length) break;
    }
    if (size >= syncBuffer.length) {
      // It grew past what we expected while we read it.
      throw new SourceReadError('changed-during-read', `${pathText(file)} changed while it was being read`);
    }
    hash.update(syncBuffer.subarray(0, size));
    const after = fs.fstatSync(fd, { bigint: true });
    if (after.mtimeNs !== before.mtimeNs || after.size !== before.size || BigInt(size) !== after.size) {
      throw new SourceReadError('changed-during-read', `${pathText(file)} changed while it was being read`);
    }
    return {
      sha256: hash.digest('hex'),
      size,
      head: Buffer.from(syncBuffer.subarray(0, Math.min(size, HEAD_BYTES))),
    };
  } catch (error) {
    throw classify(error, file);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Filesystems where a blocking call is a network round trip (statfs magic numbers: NFS, SMB/CIFS, SMB2,
 * FUSE, 9p, AFS, Ceph): there the catalog keeps every call asynchronous and parallel.
 */
const NETWORK_FILESYSTEMS = new Set([
  0x6969, 0xff534d42, 0x517b, 0xfe534d42, 0x65735546, 0x01021997, 0x5346414f, 0x00c36400,
]);

export function isLocalFilesystem(dir: string): boolean {
  try {
    return !NETWORK_FILESYSTEMS.has(fs.statfsSync(dir).type);
  } catch {
    return false;
  }
}

/**
 * Hashes a file. Pass `expectedSize` (from the walk's lstat) only on a local disk: files up to 1 MiB are
 * then read with blocking calls, which there cost less than the thread-pool round trips of the async path.
 */
export async function hashSourceFile(file: SourcePath, expectedSize?: number): Promise<HashedFile> {
  if (expectedSize !== undefined && expectedSize <= SYNC_MAX) {
    const small = hashSmallFileSync(file);
    if (small) return small;
  }
  return hashSourceFileAsync(file);
}

/**
 * Streams a file through SHA-256 in one read-only pass. Refuses the result if the file changed while
 * it was read: a hash of a half-copied file would name content that never existed.
 */
async function hashSourceFileAsync(file: SourcePath): Promise<HashedFile> {
  const handle = await openSourceFile(file);
  try {
    const before = await handle.stat({ bigint: true });
    const hash = createHash('sha256');
    const buffer = Buffer.allocUnsafe(Number(before.size) < CHUNK ? Math.max(Number(before.size), 1) : CHUNK);
    let head: Buffer | undefined;
    let size = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, size);
      if (bytesRead === 0) break;
      if (!head) head = Buffer.from(buffer.subarray(0, Math.min(bytesRead, HEAD_BYTES)));
      hash.update(buffer.subarray(0, bytesRead));
      size += bytesRead;
    }
    const after = await handle.stat({ bigint: true });
    if (after.mtimeNs !== before.mtimeNs || after.size !== before.size || BigInt(size) !== after.size) {
      throw new SourceReadError('changed-during-read', `${pathText(file)} changed while it was being read`);
    }
    return { sha256: hash.digest('hex'), size, head: head ?? Buffer.alloc(0) };
  } catch (error) {
    throw classify(error, file);
  } finally {
    await handle.close();
  }
}

/** A source file as tools can be given it; `close` when the step is over. */
export interface ToolPath {
  path: string;
  close: () => Promise<void>;
}

/**
 * Tools take a path as text (argv, exiftool, libvips), which cannot carry a name that is not UTF-8. Such
 * a file is opened here, read-only and without following a symlink, and tools get the path of that open
 * descriptor (`/proc/<pid>/fd/<n>`, readable by this process and its children), which names the file we
 * opened whatever its name. A UTF-8 path is handed on as it is.
 */
export async function pathForTools(file: SourcePath): Promise<ToolPath> {
  if (typeof file === 'string') return { path: file, close: () => Promise.resolve() };
  const procFd = `/proc/${process.pid}/fd`;
  if (!fs.existsSync(procFd)) {
    throw new SourceReadError(
      'io-error',
      `${pathText(file)}: a name that is not UTF-8 can be given to tools only through ${procFd}, which this system lacks`,
    );
  }
  const handle = await openSourceFile(file);
  return { path: `${procFd}/${handle.fd}`, close: () => handle.close() };
}
