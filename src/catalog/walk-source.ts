import fs from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../errors.js';
import { STORE_ID_FILE } from '../artifacts/store-identity.js';
import { isWithin } from '../home/home-path.js';
import { childPath, fsErrorMessage, sourceFilePath, textOfBytes } from './file-names.js';

export interface WalkedFile {
  kind: 'file';
  /** Relative to the source root, `/`-separated, in the lossless text form of file-names.ts. */
  rel: string;
  /** What fs calls take: a string, or the exact bytes of a name that is not UTF-8. */
  abs: string | Buffer;
  size: number;
  mtimeNs: string;
  ctimeNs: string;
  inode: string;
}

export type WalkProblemReason =
  | 'permission-denied'
  | 'symlink-outside-source'
  | 'symlink-loop'
  | 'symlink-broken'
  | 'not-a-regular-file'
  | 'stat-failed'
  | 'directory-loop'
  | 'archivist-home';

export interface WalkProblem {
  kind: 'problem';
  rel: string;
  reason: WalkProblemReason;
  message: string;
  /** A directory that could not be listed: what was known under it is not "missing", just unreadable. */
  unreadableDir?: boolean;
}

export interface WalkSkip {
  kind: 'skip';
  rel: string;
  why: 'junk' | 'symlink-inside-source';
}

/** Every entry of a listed folder has been yielded: what the catalog knew there can be reconciled. */
export interface WalkFolderDone {
  kind: 'folder-done';
  /** '' for the source root. */
  rel: string;
}

export type WalkEntry = WalkedFile | WalkProblem | WalkSkip | WalkFolderDone;

/** How many lstat calls run at once: hides NAS latency without flooding a local disk. */
const STAT_BATCH = 64;

/**
 * Walks a source without following any symlink and without opening any file: it lists directories and
 * lstats entries, nothing else. Iterative (a deep tree cannot overflow the stack) and ordered by name, so
 * two walks of the same tree yield the same sequence. A folder's files come together, followed by its
 * `folder-done`: the catalog reconciles one folder at a time and holds no more than that. Names are
 * listed as bytes: one that is not UTF-8 would otherwise be decoded lossily and could never be stat-ed
 * again.
 */
export async function* walkSource(
  root: string,
  isJunk: (name: string) => boolean,
  options: { localDisk: boolean } = { localDisk: false },
): AsyncGenerator<WalkEntry> {
  const rootStat = await fs.promises.lstat(root, { bigint: true });
  const visited = new Set<string>([`${rootStat.dev}:${rootStat.ino}`]);
  const pending: string[] = [''];

  while (pending.length > 0) {
    const relDir = pending.pop()!;
    const absDir = relDir === '' ? root : sourceFilePath(root, relDir);
    let listed: Buffer[];
    try {
      listed = (await fs.promises.readdir(absDir, { encoding: 'buffer' })).sort((a, b) =>
        Buffer.compare(a, b),
      );
    } catch (error) {
      yield {
        kind: 'problem',
        rel: relDir || '.',
        reason:
          errnoCode(error) === 'EACCES' || errnoCode(error) === 'EPERM' ? 'permission-denied' : 'stat-failed',
        message: `cannot list directory: ${fsErrorMessage(error, absDir)}`,
        unreadableDir: true,
      };
      continue;
    }
    if (relDir !== '' && isArchivistHome(absDir, listed)) {
      // Another home inside the archive (made there before `init` could know better): its database and
      // store change all the time and are not the user's media. Reported, never cataloged; what was
      // cataloged under it before becomes missing.
      yield {
        kind: 'problem',
        rel: relDir,
        reason: 'archivist-home',
        message: 'an Archivist home (database and artifact store): skipped, never cataloged',
      };
      continue;
    }
    const subdirs: string[] = [];
    for (let i = 0; i < listed.length; i += STAT_BATCH) {
      const batch = listed.slice(i, i + STAT_BATCH).map((bytes) => ({
        name: textOfBytes(bytes),
        abs: childPath(absDir, bytes),
      }));
      // On a local disk one blocking lstat costs microseconds, less than a thread-pool round trip; on a
      // network share each is a round trip, so there they go out in parallel batches instead.
      const stats = options.localDisk
        ? batch.map(({ name, abs }) => {
            if (isJunk(name)) return null;
            try {
              return fs.lstatSync(abs, { bigint: true });
            } catch (error) {
              return error as Error;
            }
          })
        : await Promise.all(
            batch.map(({ name, abs }) =>
              isJunk(name)
                ? Promise.resolve(null)
                : fs.promises.lstat(abs, { bigint: true }).catch((error: unknown) => error as Error),
            ),
          );
      for (let j = 0; j < batch.length; j++) {
        const { name, abs } = batch[j]!;
        const stat = stats[j];
        const rel = relDir === '' ? name : `${relDir}/${name}`;
        if (stat === null) {
          yield { kind: 'skip', rel, why: 'junk' };
        } else if (stat instanceof Error) {
          const denied = errnoCode(stat) === 'EACCES' || errnoCode(stat) === 'EPERM';
          yield {
            kind: 'problem',
            rel,
            reason: denied ? 'permission-denied' : 'stat-failed',
            message: fsErrorMessage(stat, abs),
          };
        } else if (stat?.isDirectory()) {
          // Without following symlinks a loop needs a bind mount; the (device, inode) set still stops it.
          const key = `${stat.dev}:${stat.ino}`;
          if (visited.has(key)) {
            yield {
              kind: 'problem',
              rel,
              reason: 'directory-loop',
              message: 'directory already visited (bind mount loop)',
            };
          } else {
            visited.add(key);
            subdirs.push(rel);
          }
        } else if (stat?.isFile()) {
          yield {
            kind: 'file',
            rel,
            abs,
            size: Number(stat.size),
            mtimeNs: stat.mtimeNs.toString(),
            ctimeNs: stat.ctimeNs.toString(),
            inode: stat.ino.toString(),
          };
        } else if (stat?.isSymbolicLink()) {
          yield await classifySymlink(root, rel, abs);
        } else {
          yield {
            kind: 'problem',
            rel,
            reason: 'not-a-regular-file',
            message: 'device, FIFO or socket: skipped',
          };
        }
      }
    }
    yield { kind: 'folder-done', rel: relDir };
    // Reverse so that popping visits subdirectories in name order.
    for (let k = subdirs.length - 1; k >= 0; k--) pending.push(subdirs[k]!);
  }
}

/** Symlinks are never followed; we only find out where they point, to report it. */
/**
 * A folder laid out as an Archivist home: its `config.json` and `artifacts/` beside each other, and the
 * store's id file in `artifacts/`. Decided from the listing and one lstat: the walk opens no file.
 */
function isArchivistHome(absDir: string | Buffer, listed: readonly Buffer[]): boolean {
  const names = new Set(listed.map((name) => name.toString('latin1')));
  if (!names.has('config.json') || !names.has('artifacts')) return false;
  try {
    const idFile = childPath(childPath(absDir, Buffer.from('artifacts')), Buffer.from(STORE_ID_FILE));
    return fs.lstatSync(idFile).isFile();
  } catch {
    return false;
  }
}

async function classifySymlink(root: string, rel: string, abs: string | Buffer): Promise<WalkEntry> {
  try {
    // As bytes, then text: a target whose name is not UTF-8 is compared (and reported) exactly.
    const target = textOfBytes(await fs.promises.realpath(abs, { encoding: 'buffer' }));
    // Both sides in the text form, so that a folder name that spells an escape compares equal too.
    const linkPath = textOfBytes(typeof abs === 'string' ? Buffer.from(abs, 'utf8') : abs);
    // A link to its own folder or one above it (`up -> ..`) is a loop for anything that follows links.
    if (isWithin(path.dirname(linkPath), target)) {
      return {
        kind: 'problem',
        rel,
        reason: 'symlink-loop',
        message: `symlink to ${target}, a folder that contains it (a loop): not followed`,
      };
    }
    if (isWithin(target, textOfBytes(Buffer.from(root, 'utf8'))))
      return { kind: 'skip', rel, why: 'symlink-inside-source' };
    return {
      kind: 'problem',
      rel,
      reason: 'symlink-outside-source',
      message: `symlink to ${target}, outside the source: not followed`,
    };
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ELOOP')
      return { kind: 'problem', rel, reason: 'symlink-loop', message: 'symlink loop: not followed' };
    if (code === 'ENOENT') {
      const target = await fs.promises.readlink(abs, { encoding: 'buffer' }).then(textOfBytes, () => '?');
      return {
        kind: 'problem',
        rel,
        reason: 'symlink-broken',
        message: `symlink to ${target}, which does not exist`,
      };
    }
    return {
      kind: 'problem',
      rel,
      reason: 'stat-failed',
      message: fsErrorMessage(error, abs),
    };
  }
}
