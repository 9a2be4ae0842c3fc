import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ArchivistError, errnoCode } from '../errors.js';
import { isWithin, type HomeLayout } from '../home/home-path.js';
import type { SourceRow } from '../store/schema.js';
import type { ManifestEntry } from './read-only-manifest.js';

/** The stored manifest that later `verify-readonly` calls compare against. */
export interface Baseline {
  format: typeof FORMAT;
  source: { name: string; path: string };
  createdAt: string;
  entries: ManifestEntry[];
}

const FORMAT = 'archivist-readonly-baseline-v1';

const EntrySchema = z.object({
  path: z.string(),
  type: z.enum(['file', 'dir', 'symlink', 'other', 'unknown']),
  size: z.number().nullable(),
  mtimeNs: z.string().nullable(),
  ctimeNs: z.string().nullable(),
  inode: z.string().nullable(),
  mode: z.number().nullable(),
  target: z.string().optional(),
  sha256: z.string().optional(),
  unreadable: z.string().optional(),
});

const BaselineSchema = z.object({
  format: z.literal(FORMAT),
  source: z.object({ name: z.string(), path: z.string() }),
  createdAt: z.string(),
  entries: z.array(EntrySchema),
});

/** One file per source, named after it (source names are restricted to safe file-name characters). */
export function baselinePath(layout: HomeLayout, source: Pick<SourceRow, 'name'>): string {
  return path.join(layout.baselines, `readonly-${source.name}.json`);
}

/** The stored baseline, or undefined when there is none yet. */
export function loadBaseline(
  layout: HomeLayout,
  source: Pick<SourceRow, 'name' | 'path'>,
): Baseline | undefined {
  const file = baselinePath(layout, source);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined;
    throw new ArchivistError('io', `cannot read the baseline ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  let baseline: Baseline;
  try {
    baseline = BaselineSchema.parse(JSON.parse(text));
  } catch (error) {
    throw new ArchivistError('io', `the baseline ${file} is damaged: ${(error as Error).message}`, {
      cause: error,
      hint: `Run \`archivist verify-readonly ${source.name} --reset\` to make a new one.`,
    });
  }
  if (baseline.source.path !== source.path) {
    // Comparing a manifest of one folder with that of another would list every file as added and removed.
    throw new ArchivistError(
      'usage',
      `the baseline of "${source.name}" was made for ${baseline.source.path}, but the source is at ${source.path}`,
      {
        hint: `Run \`archivist verify-readonly ${source.name} --reset\` to make a baseline of the new path.`,
      },
    );
  }
  return baseline;
}

/**
 * Stores a baseline atomically (temp file, fsync, rename), so an interrupted write leaves the previous
 * baseline, never half of one.
 */
export function saveBaseline(
  layout: HomeLayout,
  source: Pick<SourceRow, 'name' | 'path'>,
  baseline: Baseline,
): string {
  const file = baselinePath(layout, source);
  // The baseline belongs to the home; a file written under the source would itself break what it proves.
  if (isWithin(file, source.path)) {
    throw new ArchivistError(
      'internal',
      `refusing to write the baseline ${file} inside the source ${source.path}`,
    );
  }
  fs.mkdirSync(layout.baselines, { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  try {
    const fd = fs.openSync(temp, 'w');
    try {
      fs.writeSync(fd, `${JSON.stringify(baseline)}\n`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, file);
  } catch (error) {
    fs.rmSync(temp, { force: true });
    throw new ArchivistError('io', `cannot write the baseline ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return file;
}

export function newBaseline(source: Pick<SourceRow, 'name' | 'path'>, entries: ManifestEntry[]): Baseline {
  return {
    format: FORMAT,
    source: { name: source.name, path: source.path },
    createdAt: new Date().toISOString(),
    entries,
  };
}
