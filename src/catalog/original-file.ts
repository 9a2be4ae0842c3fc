import { createHash } from 'node:crypto';
import type fs from 'node:fs';
import { Readable } from 'node:stream';
import { openSourceFile, SourceReadError } from './source-reader.js';

/**
 * How the pipeline reaches an original: opened once by the source reader (O_RDONLY | O_NOFOLLOW, with
 * O_NOATIME where allowed), checked against what the catalog recorded, and then handed to tools only
 * as that open descriptor: as a child's stdin, as /proc/<pid>/fd/<n>, or as bytes read through it. A
 * path swapped for a symlink or another file after the check is never followed, and nothing is made
 * from content the lineage does not name (PRODUCT section 6, drill J).
 */

/** What the catalog knows of a location; the descriptor must still match it. */
export interface CatalogFacts {
  size: number;
  /** The asset id: the SHA-256 of the content the catalog hashed. */
  sha256?: string;
  /** As the catalog stored them: decimal strings (nanoseconds, 64-bit inode). */
  mtimeNs?: string | null;
  inode?: string | null;
}

/** Files up to this size are hashed again before use: a millisecond, against a changed-content surprise. */
const REHASH_MAX_BYTES = 1024 * 1024;

/**
 * Originals up to this size are read into one buffer per process, lent to one `withContent` at a time
 * (a second one at the same moment gets a buffer of its own). Kept between originals: a camera JPEG is
 * 4-25 MB, and the worker's budget (400 MB) has room for it.
 */
const LEND_MAX_BYTES = 32 * 1024 * 1024;
let spare: Buffer | null = null;

function borrow(size: number): Buffer {
  const buffer = spare && spare.length >= size ? spare : null;
  if (buffer) spare = null;
  // Grown in whole MiB, so that a slightly larger original does not mean a new buffer each time.
  return buffer ?? Buffer.allocUnsafe(Math.min(LEND_MAX_BYTES, Math.ceil(size / 1048576) * 1048576));
}

function giveBack(buffer: Buffer): void {
  if (!spare || spare.length < buffer.length) spare = buffer;
}

export class OriginalFile {
  constructor(
    /** The cataloged path: for messages and file-name hints only, never to open the file again. */
    readonly path: string,
    private readonly handle: fs.promises.FileHandle,
    readonly size: number,
  ) {}

  get fd(): number {
    return this.handle.fd;
  }

  /**
   * A path at which any process of this user reaches this very descriptor (Linux: the kernel resolves
   * it to the open file, not to the name in the source). For libvips inside this process, on originals
   * too large to read into memory; a new open of it lacks O_NOATIME, so the kernel may record an access
   * (see docs/principles.md). On other systems, the cataloged path (checked, but not swap-proof).
   */
  get descriptorPath(): string {
    return process.platform === 'linux' ? `/proc/${process.pid}/fd/${this.fd}` : this.path;
  }

  /** The descriptor's own facts (size, times, mode): what exiftool would have read from the file. */
  stat(): Promise<fs.BigIntStats> {
    return this.handle.stat({ bigint: true });
  }

  /**
   * The whole content as a stream of positional reads through the descriptor (its offset and flags stay
   * as they are; the handle stays open), for feeding a tool through a pipe. Reads start at 64 KiB and
   * double up to 1 MiB: a reader that stops early (exiftool at a JPEG's image data) has then cost a few
   * small reads, not the 1.7 MiB per 4 MB JPEG that 1 MiB reads from the start cost.
   */
  stream(): Readable {
    const { handle, size } = this;
    return Readable.from(
      (async function* chunks() {
        let chunk = 64 * 1024;
        for (let position = 0; position < size; chunk = Math.min(chunk * 2, 1024 * 1024)) {
          const buffer = Buffer.allocUnsafe(Math.min(chunk, size - position));
          const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
          if (bytesRead === 0) return;
          position += bytesRead;
          yield buffer.subarray(0, bytesRead);
        }
      })(),
    );
  }

  /** The whole content, read through the descriptor, in a buffer of the caller's own. */
  async read(): Promise<Buffer> {
    const buffer = Buffer.allocUnsafe(this.size);
    await this.readInto(buffer);
    return buffer;
  }

  /**
   * The whole content, read through the descriptor into this process's lent buffer, for `use` to read
   * while it runs; the bytes are overwritten by a later original once `use` has settled, so nothing may
   * keep them (or transfer them to a thread) beyond it. A fresh buffer per original (an 11 MB JPEG read
   * for its thumbnail) was new memory to fault in each time, and V8 counts it as external memory: it
   * started a major garbage collection every few files, 1 s of CPU per 200 photos in each worker.
   */
  async withContent<T>(use: (content: Buffer) => Promise<T>): Promise<T> {
    const lent = this.size <= LEND_MAX_BYTES ? borrow(this.size) : null;
    const buffer = lent ? lent.subarray(0, this.size) : Buffer.allocUnsafe(this.size);
    try {
      await this.readInto(buffer);
      return await use(buffer);
    } finally {
      if (lent) giveBack(lent);
    }
  }

  private async readInto(buffer: Buffer): Promise<void> {
    let offset = 0;
    while (offset < this.size) {
      const { bytesRead } = await this.handle.read(buffer, offset, this.size - offset, offset);
      if (bytesRead === 0) break;
      offset += bytesRead;
    }
    if (offset !== this.size) {
      throw new SourceReadError('changed-during-read', `${this.path} changed while it was being read`);
    }
  }

  /**
   * Up to `length` bytes at `position`, read through the descriptor (fewer only at the end of the file):
   * for steps that need a part of a large original, not all of it in memory. A file that got shorter
   * than it was when opened is `changed-during-read`.
   */
  async readAt(position: number, length: number): Promise<Buffer> {
    const wanted = Math.max(0, Math.min(length, this.size - position));
    const buffer = Buffer.allocUnsafe(wanted);
    let offset = 0;
    while (offset < wanted) {
      const { bytesRead } = await this.handle.read(buffer, offset, wanted - offset, position + offset);
      if (bytesRead === 0) break;
      offset += bytesRead;
    }
    if (offset !== wanted) {
      throw new SourceReadError('changed-during-read', `${this.path} changed while it was being read`);
    }
    return buffer;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** The path of the original as a child sees it when the descriptor is its stdin (Linux). */
export const CHILD_STDIN_PATH = '/proc/self/fd/0';

/**
 * Opens an original and checks it is still what the catalog saw: a regular file (a FIFO or a symlink
 * swapped in is `not-a-regular-file` at once, never waited on), of the same size, mtime and inode, and,
 * for small files, the same content. Anything else is `source-changed`: re-catalog the source first.
 */
export async function openOriginal(file: string, expected: CatalogFacts): Promise<OriginalFile> {
  const handle = await openSourceFile(file);
  try {
    const stat = await handle.stat({ bigint: true });
    const changes: string[] = [];
    if (stat.size !== BigInt(expected.size)) changes.push(`size ${expected.size} → ${stat.size} bytes`);
    if (expected.mtimeNs && stat.mtimeNs.toString() !== expected.mtimeNs) changes.push('modification time');
    if (expected.inode && stat.ino.toString() !== expected.inode) changes.push('inode (replaced)');
    const original = new OriginalFile(file, handle, Number(stat.size));
    if (changes.length === 0 && expected.sha256 && expected.size <= REHASH_MAX_BYTES) {
      const sha256 = await original.withContent((content) =>
        Promise.resolve(createHash('sha256').update(content).digest('hex')),
      );
      if (sha256 !== expected.sha256) changes.push('content (hash)');
    }
    if (changes.length > 0) {
      throw new SourceReadError(
        'source-changed',
        `${file} changed since it was cataloged (${changes.join(', ')}); run \`archivist catalog\` again`,
      );
    }
    return original;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** Opens, runs `use`, and closes whatever happens. */
export async function withOriginal<T>(
  file: string,
  expected: CatalogFacts,
  use: (original: OriginalFile) => Promise<T>,
): Promise<T> {
  const original = await openOriginal(file, expected);
  try {
    return await use(original);
  } finally {
    await original.close();
  }
}
