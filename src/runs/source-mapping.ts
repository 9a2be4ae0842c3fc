import { sourceFilePath } from '../catalog/file-names.js';
import { hashSourceFile, SourceReadError } from '../catalog/source-reader.js';
import { ArchivistError } from '../errors.js';
import type { Db } from '../store/database.js';
import { sampleLocations } from '../store/location-samples-repository.js';
import { listSources } from '../store/sources-repository.js';

/**
 * Where this host sees each source: `--map SOURCE=PATH`, because the NAS share is `/volume1/photos` on
 * the NAS and `/mnt/nas/photos` on the desktop. A source without a mapping is where the catalog saw it.
 */
export type SourceRoots = ReadonlyMap<string, string>;

/** How many files of each source a worker checks before its first claim. */
const SAMPLES_PER_SOURCE = 3;

export function parseSourceMaps(specs: readonly string[]): Map<string, string> {
  const roots = new Map<string, string>();
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const [name, root] = [spec.slice(0, eq), spec.slice(eq + 1)];
    if (eq <= 0 || !root.startsWith('/')) {
      throw new ArchivistError('usage', `--map ${spec}: expected SOURCE=/absolute/path`, {
        field: 'map',
        hint: 'For example --map photos=/mnt/nas/photos (the source name as `archivist source list` shows it).',
      });
    }
    if (roots.has(name))
      throw new ArchivistError('usage', `--map names source ${name} twice`, { field: 'map' });
    roots.set(name, root.length > 1 ? root.replace(/\/+$/, '') : root);
  }
  return roots;
}

/** The root of `source` on this host. */
export function rootOnThisHost(roots: SourceRoots | undefined, source: string, cataloged: string): string {
  return roots?.get(source) ?? cataloged;
}

export interface MappingCheck {
  source: string;
  root: string;
  checked: number;
}

/**
 * Before a worker claims anything: for every source, a few cataloged files (picked at random) must be
 * found under this host's root with the cataloged size and SHA-256. A wrong mount, a stale copy or a
 * mapping to another source would otherwise fail every item it touches (`source-missing`), or, worse,
 * make artifacts of other content under the cataloged asset's name; the step's own check (size, mtime,
 * inode) would catch most but not a copy with the same size.
 */
export async function checkSourceMapping(db: Db, roots: SourceRoots): Promise<MappingCheck[]> {
  const sources = await listSources(db);
  for (const name of roots.keys()) {
    if (!sources.some((s) => s.name === name)) {
      throw new ArchivistError('usage', `--map ${name}=...: the archive has no source named ${name}`, {
        field: 'map',
        hint: `Its sources: ${sources.map((s) => s.name).join(', ') || '(none)'}.`,
      });
    }
  }
  const checks: MappingCheck[] = [];
  for (const source of sources) {
    const root = rootOnThisHost(roots, source.name, source.path);
    const samples = await sampleLocations(db, source.id, SAMPLES_PER_SOURCE);
    for (const sample of samples) {
      const file = sourceFilePath(root, sample.path);
      const problem = await whatIsWrong(file, sample);
      if (problem) {
        throw new ArchivistError(
          'mapping-mismatch',
          `source ${source.name} is not what the catalog saw at ${root}: ${sample.path} ${problem}`,
          {
            field: 'map',
            hint: roots.has(source.name)
              ? `Check --map ${source.name}=${root}: it must be the folder cataloged as ${source.path}, as this host mounts it.`
              : `This host does not see ${source.path} as the catalog did: pass --map ${source.name}=PATH with the folder as this host mounts it.`,
          },
        );
      }
    }
    checks.push({ source: source.name, root, checked: samples.length });
  }
  return checks;
}

async function whatIsWrong(
  file: string | Buffer,
  expected: { assetId: string; size: number },
): Promise<string | null> {
  try {
    const found = await hashSourceFile(file);
    if (found.size !== expected.size) return `has ${found.size} bytes, cataloged ${expected.size}`;
    if (found.sha256 !== expected.assetId) return 'has other content (SHA-256 differs)';
    return null;
  } catch (error) {
    if (error instanceof SourceReadError && error.reason === 'not-found') return 'is not there';
    return `cannot be read (${error instanceof Error ? error.message : String(error)})`;
  }
}
