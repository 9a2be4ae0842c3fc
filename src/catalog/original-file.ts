import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
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
   * it to the open file, not to the name in the source). For libvips inside this process and for the
   * long-lived exiftool child. On other systems, the cataloged path (checked, but not swap-proof).
   */
  get descriptorPath(): string {
    return process.platform === 'linux' ? `/proc/${process.pid}/fd/${this.fd}` : this.path;
  }

  /**
   * A name for the descriptor that keeps the original's extension, for tools that read the kind of a
   * file from its name (exiftool tells NEF, DNG and ARW from TIFF by it): a symlink in the worker's own
   * scratch folder to /proc/<pid>/fd/<n>. Nothing is created in a source, the original's own name (which
   * may hold a newline) never reaches the tool, and the link resolves to the open file, not to a path.
   * Removed by close().
   */
  async namedPath(scratchDir: string): Promise<string> {
    if (process.platform !== 'linux') return this.path;
    if (this.link) return this.link;
    const extension = path
      .extname(this.path)
      .slice(1)
      .replace(/[^A-Za-z0-9]/g, '')
      .slice(0, 10);
    const link = path.join(
      scratchDir,
      `original-${process.pid}-${this.fd}${extension ? `.${extension}` : ''}`,
    );
    await fs.promises.unlink(link).catch(() => undefined);
    await fs.promises.symlink(this.descriptorPath, link);
    this.link = link;
    return link;
  }

  private link: string | undefined;

  /** The whole content, read through the descriptor. */
  async read(): Promise<Buffer> {
    const buffer = Buffer.allocUnsafe(this.size);
    let offset = 0;
    while (offset < this.size) {
      const { bytesRead } = await this.handle.read(buffer, offset, this.size - offset, offset);
      if (bytesRead === 0) break;
      offset += bytesRead;
    }
    if (offset !== this.size) {
      throw new SourceReadError('changed-during-read', `${this.path} changed while it was being read`);
    }
    return buffer;
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
    if (this.link) await fs.promises.unlink(this.link).catch(() => undefined);
    this.link = undefined;
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
      const sha256 = createHash('sha256')
        .update(await original.read())
        .digest('hex');
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
