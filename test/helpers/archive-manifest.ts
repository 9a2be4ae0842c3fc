import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * The read-only proof of PRODUCT section 1, written independently of Archivist's own code so that a bug
 * there cannot hide itself: every entry under a root, hidden and junk files included, with type, size,
 * mtime, ctime, inode, mode, symlink target and content hash. Symlinks are recorded, not followed.
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
  const visit = (rel: string) => {
    const abs = rel === '' ? root : path.join(root, rel);
    const stat = fs.lstatSync(abs, { bigint: true });
    const type = stat.isFile()
      ? 'file'
      : stat.isDirectory()
        ? 'dir'
        : stat.isSymbolicLink()
          ? 'symlink'
          : 'other';
    const entry: ManifestEntry = {
      path: rel || '.',
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
    if (type === 'symlink') entry.target = fs.readlinkSync(abs);
    entries.push(entry);
    if (type === 'dir') {
      let names: string[];
      try {
        names = fs.readdirSync(abs).sort();
      } catch {
        return; // unreadable directory: its own entry is recorded, its listing cannot be
      }
      for (const name of names) visit(rel === '' ? name : path.join(rel, name));
    }
  };
  visit('');
  return entries;
}
