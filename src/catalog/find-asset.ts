import fs from 'node:fs';
import path from 'node:path';
import { ArchivistError } from '../errors.js';
import type { Home } from '../home/home.js';
import { isWithin } from '../home/home-path.js';
import { bytesOfText, textOfBytes } from './file-names.js';
import { makeJunkFilter } from './junk.js';
import {
  findAssetAtLocation,
  findAssetsByIdPrefix,
  locationsOf,
  type AssetWithLocations,
} from '../store/assets-repository.js';
import { lastScanSummary } from '../store/scans-repository.js';
import { listSources } from '../store/sources-repository.js';
import type { AssetRow } from '../store/schema.js';

const ID_PREFIX = /^[0-9a-f]{4,64}$/i;

async function withLocations(home: Home, asset: AssetRow): Promise<AssetWithLocations> {
  const locations = await locationsOf(home.db, [asset.id]);
  return { ...asset, locations: locations.get(asset.id) ?? [] };
}

/**
 * Finds an asset by what a person has at hand: an absolute path, a path relative to the working
 * directory, `source:path` as Archivist prints locations, or the first characters of its id. A path that exists on disk (or contains a separator)
 * is taken as a path; a missing file can still be looked up by the path it was cataloged at.
 */
export async function findAsset(home: Home, ref: string, cwd: string): Promise<AssetWithLocations> {
  const resolved = path.resolve(cwd, ref);
  // `source:path`, the way `run show` and the UI print a location, so a person can copy it from there
  // (unless a file of that very name exists where the command runs).
  const named = /^([^/:\\]+):(.+)$/.exec(ref);
  if (named && !fs.existsSync(resolved)) {
    const source = (await listSources(home.db)).find((s) => s.name === named[1]);
    if (source) return findByPath(home, path.join(source.path, ...named[2]!.split('/')));
  }
  const looksLikePath = ref.includes('/') || ref.includes(path.sep) || fs.existsSync(resolved);
  if (looksLikePath) return findByPath(home, resolved);
  if (ID_PREFIX.test(ref)) {
    const matches = await findAssetsByIdPrefix(home.db, ref, 6);
    if (matches.length === 1) return withLocations(home, matches[0]!);
    if (matches.length > 1) {
      throw new ArchivistError('asset-ambiguous', `the id prefix ${ref} matches several assets`, {
        hint: `Give more characters: ${matches.map((m) => m.id.slice(0, 16)).join(', ')}${matches.length > 5 ? ', …' : ''}`,
      });
    }
    throw new ArchivistError('asset-unknown', `no asset has an id starting with ${ref}`);
  }
  throw new ArchivistError('asset-unknown', `"${ref}" is neither a cataloged path nor an asset id`, {
    hint: 'Give a file path (absolute or relative), source:path, or at least 4 hex characters of an asset id.',
  });
}

async function findByPath(home: Home, resolved: string): Promise<AssetWithLocations> {
  let canonical = resolved;
  let onDisk = false;
  try {
    canonical = fs.realpathSync.native(resolved);
    onDisk = true;
  } catch {
    // Gone from disk, or given as printed (`caf\xe9.jpg`): look it up under the path it was cataloged at.
  }
  const sources = await listSources(home.db);
  const source = sources.find((s) => isWithin(canonical, s.path));
  if (!source) {
    throw new ArchivistError('asset-unknown', `${canonical} is not inside any source`, {
      hint: `Sources: ${sources.map((s) => `${s.name} (${s.path})`).join(', ') || 'none yet'}.`,
    });
  }
  const rel = path.relative(source.path, canonical).split(path.sep).join('/');
  // A file on disk is known by its own name's text form; a path as Archivist prints it (with `\xHH` for
  // bytes that are not UTF-8 or are control characters) stands for the bytes it spells.
  const asTyped = textOfBytes(Buffer.from(rel, 'utf8'));
  const asPrinted = textOfBytes(bytesOfText(rel));
  let asset: AssetRow | undefined;
  for (const candidate of onDisk ? [asTyped] : [...new Set([asPrinted, asTyped])]) {
    asset ??= await findAssetAtLocation(home.db, source.id, candidate);
  }
  if (!asset) throw await notCataloged(home, source, resolved, canonical, asTyped);
  return withLocations(home, asset);
}

/**
 * Why a file inside a source has no asset, in the catalog's own words where it reported one: "is not
 * cataloged, run catalog" is wrong advice for a file the catalog saw and refused (an empty file).
 */
async function notCataloged(
  home: Home,
  source: { id: number; name: string },
  resolved: string,
  canonical: string,
  rel: string,
): Promise<ArchivistError> {
  const last = await lastScanSummary(home.db, source.id);
  const errors = (last?.summary as { errors?: { path: string; reason: string; message?: string }[] })?.errors;
  const problem = errors?.find((error) => error.path === rel);
  if (problem) {
    return new ArchivistError(
      'asset-unknown',
      `${canonical} is not cataloged: the catalog of ${source.name} at ${last!.finishedAt} found it and reported ${problem.reason}${problem.message ? ` (${problem.message})` : ''}`,
      { hint: 'Fix the file if it should be there, then catalog again.' },
    );
  }
  let link = false;
  try {
    link = fs.lstatSync(resolved).isSymbolicLink();
  } catch {
    // gone, or never there
  }
  if (link) {
    return new ArchivistError(
      'asset-unknown',
      `${resolved} is a symlink: the catalog never follows symlinks`,
      {
        hint: `Look the file up by the path it points to (${canonical}).`,
      },
    );
  }
  if (makeJunkFilter(home.config.catalog.ignore)(path.basename(canonical))) {
    return new ArchivistError('asset-unknown', `${canonical} is junk the catalog always skips`, {
      hint: 'Names such as .DS_Store, Thumbs.db, ._* and the names in catalog.ignore are never cataloged.',
    });
  }
  return new ArchivistError('asset-unknown', `${canonical} is not cataloged`, {
    hint: last
      ? `The catalog of ${source.name} at ${last.finishedAt} did not see it: run \`archivist catalog ${source.name}\` again.`
      : `Run \`archivist catalog ${source.name}\` first.`,
  });
}
