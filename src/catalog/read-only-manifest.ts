import fs from 'node:fs';
import { ArchivistError, errnoCode } from '../errors.js';
import { childPath, sourceFilePath, textOfBytes } from './file-names.js';
import { hashSourceFile, SourceReadError, type SourcePath } from './source-reader.js';

/**
 * The user-facing read-only proof (PRODUCT section 1): every entry under a source root, hidden and junk
 * files included, with what would show any write to it. Built with lstat, readdir and readlink only; file
 * contents are read solely through `hashSourceFile`, the one module allowed to open source files.
 */
export type ManifestEntryType = 'file' | 'dir' | 'symlink' | 'other' | 'unknown';

export interface ManifestEntry {
  /**
   * Relative to the root, `/`-separated; the root itself is `.`. A name that is not UTF-8 is kept in the
   * lossless text form of file-names.ts (`caf\xe9.jpg`), so it is compared byte for byte.
   */
  path: string;
  type: ManifestEntryType;
  /** Null only when the entry could not even be lstat-ed (type `unknown`). */
  size: number | null;
  mtimeNs: string | null;
  ctimeNs: string | null;
  inode: string | null;
  mode: number | null;
  /** Symlinks only: where the link points, as stored in it (never followed), in the same text form. */
  target?: string;
  /** Regular files only, when they could be read. */
  sha256?: string;
  /** Why the content (file), the listing (dir) or the entry itself could not be read. */
  unreadable?: string;
}

export interface ManifestProgress {
  entries: number;
  hashed: number;
  bytesHashed: number;
}

export interface ManifestOptions {
  /** Files hashed at once. */
  concurrency?: number;
  onProgress?: (progress: ManifestProgress) => void;
}

/** Entries stat-ed at once while listing: hides NAS latency without flooding a local disk. */
const STAT_BATCH = 64;

export async function buildManifest(root: string, options: ManifestOptions = {}): Promise<ManifestEntry[]> {
  let rootStat: fs.BigIntStats;
  try {
    rootStat = await fs.promises.lstat(root, { bigint: true });
  } catch (error) {
    throw new ArchivistError('io', `the source root ${root} cannot be read: ${(error as Error).message}`, {
      cause: error,
      hint: 'Is the disk or network share that holds it mounted?',
    });
  }
  const entries: ManifestEntry[] = [];
  const files: { entry: ManifestEntry; abs: SourcePath }[] = [];
  const progress: ManifestProgress = { entries: 0, hashed: 0, bytesHashed: 0 };
  const visited = new Set<string>();
  // Depth-first with sorted names, so that two manifests of the same tree list entries in the same order.
  const pending: { rel: string; stat: fs.BigIntStats }[] = [{ rel: '.', stat: rootStat }];

  while (pending.length > 0) {
    const { rel, stat } = pending.pop()!;
    const abs = rel === '.' ? root : sourceFilePath(root, rel);
    const entry = entryOf(rel, stat);
    entries.push(entry);
    progress.entries++;
    if (entry.type === 'symlink') {
      // readlink reads the link itself; nothing here ever resolves it.
      entry.target = await fs.promises
        .readlink(abs, { encoding: 'buffer' })
        .then(textOfBytes, (error: unknown) => {
          entry.unreadable = reasonOf(error);
          return undefined;
        });
      if (entry.target === undefined) delete entry.target;
    } else if (entry.type === 'file') {
      files.push({ entry, abs });
    } else if (entry.type === 'dir') {
      const key = `${stat.dev}:${stat.ino}`;
      if (visited.has(key)) {
        entry.unreadable = 'directory-loop'; // a bind mount of an ancestor: listed once only
        continue;
      }
      visited.add(key);
      const children = await listDirectory(abs, rel);
      if ('unreadable' in children) {
        entry.unreadable = children.unreadable;
        continue;
      }
      for (const child of children.entries.reverse()) {
        if ('stat' in child) pending.push(child);
        else {
          entries.push(child.entry);
          progress.entries++;
        }
      }
    }
    options.onProgress?.(progress);
  }

  await hashAll(files, Math.max(1, options.concurrency ?? 4), progress, options.onProgress);
  return entries.sort((a, b) => comparePaths(a.path, b.path));
}

type Child = { rel: string; stat: fs.BigIntStats } | { entry: ManifestEntry };

async function listDirectory(
  abs: SourcePath,
  rel: string,
): Promise<{ entries: Child[] } | { unreadable: string }> {
  let names: Buffer[];
  try {
    // As bytes: a name that is not UTF-8 would be decoded lossily and could not be stat-ed.
    names = (await fs.promises.readdir(abs, { encoding: 'buffer' })).sort((a, b) => Buffer.compare(a, b));
  } catch (error) {
    return { unreadable: reasonOf(error) };
  }
  const children: Child[] = [];
  for (let i = 0; i < names.length; i += STAT_BATCH) {
    const batch = names.slice(i, i + STAT_BATCH);
    const stats = await Promise.all(
      batch.map((name) =>
        fs.promises.lstat(childPath(abs, name), { bigint: true }).catch((error: unknown) => error as Error),
      ),
    );
    batch.forEach((bytes, j) => {
      const name = textOfBytes(bytes);
      const childRel = rel === '.' ? name : `${rel}/${name}`;
      const stat = stats[j]!;
      if (stat instanceof Error) {
        // Listed but not stat-able (a directory with read but no search permission): recorded, not fatal.
        children.push({
          entry: {
            path: childRel,
            type: 'unknown',
            size: null,
            mtimeNs: null,
            ctimeNs: null,
            inode: null,
            mode: null,
            unreadable: reasonOf(stat),
          },
        });
      } else {
        children.push({ rel: childRel, stat });
      }
    });
  }
  return { entries: children };
}

function entryOf(rel: string, stat: fs.BigIntStats): ManifestEntry {
  return {
    path: rel,
    type: stat.isFile() ? 'file' : stat.isDirectory() ? 'dir' : stat.isSymbolicLink() ? 'symlink' : 'other',
    size: Number(stat.size),
    mtimeNs: stat.mtimeNs.toString(),
    ctimeNs: stat.ctimeNs.toString(),
    inode: stat.ino.toString(),
    mode: Number(stat.mode),
  };
}

async function hashAll(
  files: readonly { entry: ManifestEntry; abs: SourcePath }[],
  concurrency: number,
  progress: ManifestProgress,
  onProgress: ManifestOptions['onProgress'],
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const { entry, abs } = files[next++]!;
      try {
        // The only way this module reads file content: read-only, no atime, never through a symlink.
        const hashed = await hashSourceFile(abs);
        entry.sha256 = hashed.sha256;
        progress.bytesHashed += hashed.size;
      } catch (error) {
        entry.unreadable = reasonOf(error);
      }
      progress.hashed++;
      onProgress?.(progress);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));
}

/** A short, stable reason: two runs that hit the same problem must not report it as a difference. */
function reasonOf(error: unknown): string {
  if (error instanceof SourceReadError) return error.reason;
  const code = errnoCode(error);
  if (code === 'EACCES' || code === 'EPERM') return 'permission-denied';
  if (code === 'ENOENT') return 'not-found';
  return code ?? 'io-error';
}

/** Orders by path segments, so `a/b` sorts with `a` and before `a-b` whatever the characters. */
function comparePaths(a: string, b: string): number {
  if (a === b) return 0;
  if (a === '.') return -1;
  if (b === '.') return 1;
  const sa = a.split('/');
  const sb = b.split('/');
  for (let i = 0; i < Math.min(sa.length, sb.length); i++) {
    if (sa[i] !== sb[i]) return sa[i]! < sb[i]! ? -1 : 1;
  }
  return sa.length - sb.length;
}

export type ManifestField = Exclude<keyof ManifestEntry, 'path'>;

/** Every field that a write, a chmod, a touch or a replacement would change. */
const COMPARED: readonly ManifestField[] = [
  'type',
  'size',
  'mtimeNs',
  'ctimeNs',
  'inode',
  'mode',
  'target',
  'sha256',
  'unreadable',
];

export type FieldValue = string | number | null;

export interface ManifestDifference {
  path: string;
  change: 'added' | 'removed' | 'changed';
  /** The entry's type now, or, when removed, what it was. */
  type: ManifestEntryType;
  /** For `changed`: each field that differs, old → new (null where a field is absent). */
  fields?: Partial<Record<ManifestField, { old: FieldValue; new: FieldValue }>>;
}

export function diffManifests(
  before: readonly ManifestEntry[],
  after: readonly ManifestEntry[],
): ManifestDifference[] {
  const old = new Map(before.map((entry) => [entry.path, entry]));
  const differences: ManifestDifference[] = [];
  for (const entry of after) {
    const previous = old.get(entry.path);
    old.delete(entry.path);
    if (!previous) {
      differences.push({ path: entry.path, change: 'added', type: entry.type });
      continue;
    }
    const fields: NonNullable<ManifestDifference['fields']> = {};
    for (const field of COMPARED) {
      const was = previous[field] ?? null;
      const now = entry[field] ?? null;
      if (was !== now) fields[field] = { old: was, new: now };
    }
    if (Object.keys(fields).length > 0) {
      differences.push({ path: entry.path, change: 'changed', type: entry.type, fields });
    }
  }
  for (const entry of old.values())
    differences.push({ path: entry.path, change: 'removed', type: entry.type });
  return differences.sort((a, b) => comparePaths(a.path, b.path));
}
