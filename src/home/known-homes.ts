import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ArchivistError } from '../errors.js';
import { isWithin } from './home-path.js';

/**
 * The homes this user made on this machine, with their sources: a small registry outside every home,
 * so that `init` can refuse a new home inside another home's source. Each home only knows its own
 * sources; without this, `archivist --home /archive/newhome init` writes a database into an archive
 * that another home reads, and that home's next catalog lists it as an asset.
 *
 * Best effort by design: a registry that cannot be read or written never stops a command, because the
 * rules it backs are also enforced where they can be (the catalog skips any folder that is a home).
 */

interface Registry {
  homes: Record<string, { sources: string[] }>;
}

/** `$ARCHIVIST_STATE_DIR`, else `$XDG_STATE_HOME/archivist`, else `~/.local/state/archivist`. */
export function knownHomesFile(): string {
  const dir =
    process.env.ARCHIVIST_STATE_DIR ||
    path.join(process.env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state'), 'archivist');
  return path.join(dir, 'homes.json');
}

function read(): Registry {
  try {
    const parsed = JSON.parse(fs.readFileSync(knownHomesFile(), 'utf8')) as Partial<Registry>;
    return { homes: parsed.homes && typeof parsed.homes === 'object' ? parsed.homes : {} };
  } catch {
    return { homes: {} };
  }
}

function write(registry: Registry): void {
  const file = knownHomesFile();
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const temp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(temp, `${JSON.stringify(registry, null, 2)}\n`);
    fs.renameSync(temp, file);
  } catch {
    // A read-only home directory: the registry is a help, not a requirement.
  }
}

/** The canonical form of a path that may not exist yet: its nearest existing folder, resolved. */
function canonicalOfNew(requested: string): string {
  const absolute = path.resolve(requested);
  let existing = absolute;
  while (!fs.existsSync(existing) && path.dirname(existing) !== existing) existing = path.dirname(existing);
  try {
    return path.join(fs.realpathSync.native(existing), path.relative(existing, absolute));
  } catch {
    return absolute;
  }
}

/** Refuses a new home inside a source of another home this user registered here. */
export function refuseHomeInsideKnownSource(requested: string): void {
  const root = canonicalOfNew(requested);
  for (const [home, { sources }] of Object.entries(read().homes)) {
    if (home === root || !fs.existsSync(home)) continue;
    const source = sources.find((dir) => isWithin(root, dir));
    if (source) {
      throw new ArchivistError(
        'source-overlap',
        `${root} is inside ${source}, a source of the home ${home}`,
        {
          hint:
            'A home inside an archive would write its database into it, and that home would catalog it. ' +
            'Choose a folder outside every source.',
        },
      );
    }
  }
}

/** Records a home (and, when given, one more of its sources); homes that are gone are forgotten. */
export function rememberHome(root: string, source?: string): void {
  const registry = read();
  for (const home of Object.keys(registry.homes)) if (!fs.existsSync(home)) delete registry.homes[home];
  const entry = (registry.homes[root] ??= { sources: [] });
  if (source && !entry.sources.includes(source)) entry.sources.push(source);
  write(registry);
}

/** Refuses a source that holds another home this user registered here (its catalog would list it). */
export function refuseSourceHoldingKnownHome(source: string, ownHome: string): void {
  for (const home of Object.keys(read().homes)) {
    if (home !== ownHome && fs.existsSync(home) && isWithin(home, source)) {
      throw new ArchivistError('source-overlap', `${source} holds the Archivist home ${home}`, {
        hint: 'Sources and homes are kept apart; choose a folder that holds no home.',
      });
    }
  }
}
