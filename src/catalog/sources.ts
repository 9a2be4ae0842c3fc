import fs from 'node:fs';
import { ArchivistError, errnoCode } from '../errors.js';
import type { Home } from '../home/home.js';
import { refuseSourceHoldingKnownHome } from '../home/known-homes.js';
import { isWithin } from '../home/home-path.js';
import { findSourceByName, insertSource, listSources } from '../store/sources-repository.js';
import type { SourceRow } from '../store/schema.js';

const NAME_PATTERN = /^[\p{L}\p{N}][\p{L}\p{N}._-]{0,63}$/u;

/**
 * Registers a source after every check that keeps originals and the store apart: the path is
 * canonicalized first, so a symlink or `..` cannot smuggle the home inside a source or one source
 * inside another.
 */
export async function addSource(home: Home, name: string, requestedPath: string): Promise<SourceRow> {
  if (!NAME_PATTERN.test(name)) {
    throw new ArchivistError('usage', `invalid source name "${name}"`, {
      hint: 'Use 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit.',
    });
  }
  let canonical: string;
  try {
    // The native realpath(3): it resolves `link/..` physically, as the OS does; fs.realpathSync would
    // first normalize `..` away lexically and could name a different folder.
    canonical = fs.realpathSync.native(requestedPath);
  } catch (error) {
    const why =
      errnoCode(error) === 'ENOENT' ? 'does not exist' : `cannot be read (${(error as Error).message})`;
    throw new ArchivistError('source-invalid', `the path ${requestedPath} ${why}`, { cause: error });
  }
  if (!fs.statSync(canonical).isDirectory()) {
    throw new ArchivistError('source-invalid', `the path ${canonical} is not a directory`, {
      hint: 'A source is a folder of photos and videos.',
    });
  }
  if (isWithin(canonical, home.layout.root)) {
    throw new ArchivistError(
      'source-overlap',
      `${canonical} is inside the Archivist home ${home.layout.root}`,
      {
        hint: 'Sources and the store are kept apart; choose a folder outside the home.',
      },
    );
  }
  refuseSourceHoldingKnownHome(canonical, home.layout.root);
  if (isWithin(home.layout.root, canonical)) {
    throw new ArchivistError(
      'source-overlap',
      `${canonical} contains the Archivist home ${home.layout.root}`,
      {
        hint: 'The store must never be inside an archive; move the home (--home) or choose a narrower folder.',
      },
    );
  }
  if (await findSourceByName(home.db, name)) {
    throw new ArchivistError('source-exists', `a source named "${name}" already exists`, {
      hint: 'Choose another name; `archivist source list` shows the existing ones.',
    });
  }
  for (const other of await listSources(home.db)) {
    if (isWithin(canonical, other.path)) {
      throw new ArchivistError(
        'source-overlap',
        `${canonical} is inside the source "${other.name}" (${other.path})`,
        {
          hint: 'A file must belong to one source only; catalog the outer source instead.',
        },
      );
    }
    if (isWithin(other.path, canonical)) {
      throw new ArchivistError(
        'source-overlap',
        `${canonical} contains the source "${other.name}" (${other.path})`,
        {
          hint: 'A file must belong to one source only.',
        },
      );
    }
  }
  return insertSource(home.db, name, canonical, new Date().toISOString());
}

/** The named sources, or all of them; an unknown name is refused before anything is scanned. */
export async function resolveSources(home: Home, names: readonly string[]): Promise<SourceRow[]> {
  const all = await listSources(home.db);
  if (names.length === 0) {
    if (all.length === 0) {
      throw new ArchivistError('source-unknown', 'there are no sources yet', {
        hint: 'Add one with `archivist source add <name> <path>`.',
      });
    }
    return all;
  }
  return names.map((name) => {
    const found = all.find((source) => source.name === name);
    if (!found) {
      throw new ArchivistError('source-unknown', `there is no source named "${name}"`, {
        hint: `Known sources: ${all.map((s) => s.name).join(', ') || '(none)'}.`,
      });
    }
    return found;
  });
}
