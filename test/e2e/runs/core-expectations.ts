import path from 'node:path';
import sharp from 'sharp';
import { expect } from 'vitest';
import type { ManifestEntry } from '../../helpers/archive-manifest.js';
import type { RunJson, StepCounts } from './types.js';

/**
 * What a `core` run over the real archive must end with, worked out from the archive itself (file
 * extensions, content hashes) and from a table of the files that legitimately fail, never from
 * Archivist's own answers: the drills compare the product against this.
 */

export type MediaKind = 'image' | 'video' | 'sidecar';

const KIND_BY_EXTENSION: Record<string, MediaKind> = {
  jpg: 'image',
  jpeg: 'image',
  png: 'image',
  heic: 'image',
  heif: 'image',
  tif: 'image',
  tiff: 'image',
  mp4: 'video',
  mov: 'video',
  xmp: 'sidecar',
};

const JUNK_NAMES = new Set(['.DS_Store', 'Thumbs.db']);
const isJunk = (rel: string) => rel.split('/').includes('@eaDir') || JUNK_NAMES.has(path.posix.basename(rel));

export interface ArchiveModel {
  /** Files the catalog records (every location): neither junk nor empty. */
  locations: number;
  /** Zero-byte files: the catalog reports each with `empty-file` and makes no asset of it. */
  empty: string[];
  /** Assets by content hash (an asset's id): media type and every path holding that content. */
  assets: Map<string, { mediaType: MediaKind; paths: string[] }>;
}

export function archiveModel(manifest: readonly ManifestEntry[]): ArchiveModel {
  const model: ArchiveModel = { locations: 0, empty: [], assets: new Map() };
  for (const entry of manifest) {
    const rel = entry.path.split(path.sep).join('/');
    if (entry.type !== 'file' || isJunk(rel)) continue;
    if (entry.size === 0) {
      model.empty.push(rel);
      continue;
    }
    const mediaType = KIND_BY_EXTENSION[path.posix.extname(rel).slice(1).toLowerCase()];
    // A kind of file the drills do not know yet (the generator grew): decide what it should do first.
    if (!mediaType) throw new Error(`the drill archive has a file of an unexpected kind: ${rel}`);
    model.locations++;
    const asset = model.assets.get(entry.sha256!) ?? { mediaType, paths: [] };
    asset.paths.push(rel);
    model.assets.set(entry.sha256!, asset);
  }
  return model;
}

export const idOfPath = (model: ArchiveModel, rel: string): string => {
  for (const [id, asset] of model.assets) if (asset.paths.includes(rel)) return id;
  throw new Error(`no asset at ${rel}`);
};

export interface ExpectedFailure {
  /** Path in the archive (the run shows it as `archive:<path>`). */
  path: string;
  step: string;
  reason: string;
  attempts: number;
  message: string;
}

const TRUNCATED_MP4: Omit<ExpectedFailure, 'path'>[] = [
  {
    step: 'metadata',
    reason: 'no-metadata',
    attempts: 1,
    message:
      "no readable video stream (ffprobe: Invalid data found when processing input (moov atom not found); exiftool: Truncated 'mdat' data at offset 0x28)",
  },
  {
    step: 'thumbnail',
    reason: 'decode-error',
    attempts: 1,
    message: 'ffprobe: Invalid data found when processing input (moov atom not found)',
  },
];

/**
 * The files of the real archive that fail, on purpose, with what each must say. Not retried: a decode
 * error is not worth a second attempt. (The other "broken" files decode: libjpeg tolerates the fixture
 * `jpg/invalid/image01551.jpg` and the generator's `Corrupt/IMG_GARBAGE.JPG` with warnings, and the
 * thumbnail step tolerates warnings on purpose; the empty file never becomes an asset.)
 */
export const KNOWN_FAILURES: readonly ExpectedFailure[] = [
  ...TRUNCATED_MP4.map((f) => ({ path: 'fixtures/videos/damaged_truncated.mp4', ...f })),
  ...TRUNCATED_MP4.map((f) => ({ path: 'generated/Corrupt/VID_TRUNCATED.MP4', ...f })),
  {
    path: 'generated/Corrupt/IMG_TRUNCATED.JPG',
    step: 'thumbnail',
    reason: 'decode-error',
    attempts: 1,
    message: 'sharp: VipsJpeg: premature end of JPEG image',
  },
];

export const knownFailingAssets = (model: ArchiveModel): Set<string> =>
  new Set(KNOWN_FAILURES.map((f) => idOfPath(model, f.path)));

export const CORE_STEPS = ['metadata', 'thumbnail'] as const;

/** The counts of a completed `core` run over the whole archive. */
export function expectedCoreCounts(
  model: ArchiveModel,
  failures: readonly ExpectedFailure[] = KNOWN_FAILURES,
  reused = 0,
): { counts: StepCounts; steps: Record<string, Omit<StepCounts, 'reused'>> } {
  const assets = model.assets.size;
  const sidecars = [...model.assets.values()].filter((a) => a.mediaType === 'sidecar').length;
  const steps: Record<string, Omit<StepCounts, 'reused'>> = {};
  for (const step of CORE_STEPS) {
    const failed = failures.filter((f) => f.step === step).length;
    // Sidecars are not images or videos: their items are skipped as not applicable.
    steps[step] = {
      total: assets,
      pending: 0,
      running: 0,
      done: assets - sidecars - failed,
      failed,
      skipped: sidecars,
    };
  }
  const sum = (key: keyof Omit<StepCounts, 'reused'>) =>
    CORE_STEPS.reduce((total, step) => total + steps[step]![key], 0);
  return {
    counts: {
      total: sum('total'),
      pending: 0,
      running: 0,
      done: sum('done'),
      failed: sum('failed'),
      skipped: sum('skipped'),
      reused,
    },
    steps,
  };
}

const byKey = (a: ExpectedFailure, b: ExpectedFailure) =>
  `${a.path} ${a.step}`.localeCompare(`${b.path} ${b.step}`);

/** A run's failures in the shape of `ExpectedFailure`, sorted. */
export function failuresOf(run: RunJson): ExpectedFailure[] {
  return run.failures
    .map((f) => ({
      path: (f.path ?? '').replace(/^archive:/, ''),
      step: f.step,
      reason: f.reason,
      attempts: f.attempts,
      message: f.message ?? '',
    }))
    .sort(byKey);
}

/** Every item accounted for: the exact counts, per step too, and exactly the expected failures. */
export function expectCoreCompleted(
  run: RunJson,
  model: ArchiveModel,
  options: { failures?: readonly ExpectedFailure[]; reused?: number } = {},
): void {
  const failures = options.failures ?? KNOWN_FAILURES;
  const expected = expectedCoreCounts(model, failures, options.reused ?? 0);
  expect(run.status, run.statusReason ?? '').toBe('completed');
  expect(failuresOf(run)).toEqual([...failures].sort(byKey));
  expect(run.counts).toEqual(expected.counts);
  for (const step of CORE_STEPS) expect(run.steps[step]).toMatchObject(expected.steps[step]!);
}

/** Format and pixel size of a thumbnail file, read back with sharp. */
export async function imageFacts(file: string): Promise<{ format: string; width: number; height: number }> {
  const meta = await sharp(file).metadata();
  return { format: meta.format, width: meta.width, height: meta.height };
}

/** The generated camera JPEGs: every one of them is far larger than any thumbnail size the drills ask for. */
export const isCameraJpeg = (rel: string): boolean =>
  rel.startsWith('generated/') && !rel.startsWith('generated/Corrupt/') && rel.endsWith('.JPG');

/** With ARCHIVIST_DRILL_LOG=1, prints what `run show --json` said, for quoting in a report. */
export function drillLog(label: string, run: RunJson): void {
  if (!process.env.ARCHIVIST_DRILL_LOG) return;
  const excerpt = {
    id: run.id,
    status: run.status,
    statusReason: run.statusReason,
    counts: run.counts,
    failures: run.failures.map((f) => ({
      path: f.path,
      step: f.step,
      reason: f.reason,
      attempts: f.attempts,
      message: f.message,
    })),
    workerCrashes: run.stats.workerCrashes,
  };
  console.log(`[drill ${label}] ${JSON.stringify(excerpt, null, 2)}`);
}
