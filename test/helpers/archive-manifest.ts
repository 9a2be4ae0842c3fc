import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import fs from 'node:fs';

/**
 * The read-only proof of PRODUCT section 1, written independently of Archivist's own code so that a bug
 * there cannot hide itself: every entry under a root, hidden and junk files included, with type, size,
 * mtime, ctime, inode, mode, symlink target and content hash. Symlinks are recorded, not followed.
 * Names are read as bytes, so a name that is not UTF-8 (`caf\xe9.jpg` in Latin-1) is listed exactly: its
 * path is shown decoded with its bytes in hex after it.
 */
export interface ManifestEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
  mtimeNs: string;
  ctimeNs: string;
  inode: string;
  mode: number;
  sha256?: string;
  target?: string;
}

export function archiveManifest(root: string): ManifestEntry[] {
  const entries: ManifestEntry[] = [];
  const rootBytes = Buffer.from(root);
  const visit = (rel: Buffer) => {
    const abs = rel.length === 0 ? rootBytes : Buffer.concat([rootBytes, Buffer.from('/'), rel]);
    const stat = fs.lstatSync(abs, { bigint: true });
    const type = stat.isFile()
      ? 'file'
      : stat.isDirectory()
        ? 'dir'
        : stat.isSymbolicLink()
          ? 'symlink'
          : 'other';
    const entry: ManifestEntry = {
      path: rel.length === 0 ? '.' : shown(rel),
      type,
      size: Number(stat.size),
      mtimeNs: stat.mtimeNs.toString(),
      ctimeNs: stat.ctimeNs.toString(),
      inode: stat.ino.toString(),
      mode: Number(stat.mode),
    };
    if (type === 'file') {
      try {
        entry.sha256 = createHash('sha256').update(fs.readFileSync(abs)).digest('hex');
      } catch {
        entry.sha256 = 'unreadable';
      }
    }
    if (type === 'symlink') entry.target = shown(fs.readlinkSync(abs, { encoding: 'buffer' }));
    entries.push(entry);
    if (type === 'dir') {
      let names: Buffer[];
      try {
        names = fs.readdirSync(abs, { encoding: 'buffer' }).sort((a, b) => Buffer.compare(a, b));
      } catch {
        return; // unreadable directory: its own entry is recorded, its listing cannot be
      }
      for (const name of names) visit(rel.length === 0 ? name : Buffer.concat([rel, Buffer.from('/'), name]));
    }
  };
  visit(Buffer.alloc(0));
  return entries;
}

/** A path as text: itself when it is UTF-8, else decoded lossily with its exact bytes in hex. */
function shown(bytes: Buffer): string {
  return isUtf8(bytes)
    ? bytes.toString('utf8')
    : `${bytes.toString('utf8')} [bytes ${bytes.toString('hex')}]`;
}
