import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import type { z } from 'zod';
import { expect } from 'vitest';
import type { StepContext, StepOutcome } from '../../../src/pipeline/step.js';
import { metadataStep } from '../../../src/pipeline/steps/metadata.js';
import type { NormalizedMetadata } from '../../../src/pipeline/steps/normalize-metadata.js';
import type { ThumbnailParams } from '../../../src/pipeline/steps/thumbnail.js';
import type { MediaType } from '../../../src/store/schema.js';
import { REPO_ROOT } from '../../helpers/cli.js';

export const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'media');
export const fixture = (rel: string) => path.join(FIXTURES, ...rel.split('/'));

const execFileAsync = promisify(execFile);

/**
 * Runs the system ffmpeg (CI installs it with apt) to make a test video: `args` is split on spaces (none
 * of ours contain one), then the output file.
 */
export async function ffmpeg(args: string, output: string): Promise<void> {
  await execFileAsync('ffmpeg', ['-hide_banner', '-v', 'error', '-y', ...args.trim().split(/\s+/), output]);
}

/**
 * A scratch folder as a worker has one (steps link originals' descriptors there): inside the test run's
 * shared folder (test/global-setup.ts), which goes when the run ends even if vitest kills this process.
 */
function testScratch(): string {
  const base = process.env.ARCHIVIST_TEST_SHARED_DIR ?? os.tmpdir();
  const dir = path.join(base, `archivist-test-scratch-${process.pid}`);
  if (!fs.existsSync(dir)) {
    fs.mkdirSync(dir, { recursive: true });
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return dir;
}

export function context<P>(
  file: string,
  mediaType: MediaType,
  params: P,
  options: {
    mime?: string | null;
    signal?: AbortSignal;
    scratchDir?: string;
    sidecars?: StepContext<P>['sidecars'];
  } = {},
): StepContext<P> {
  // As the catalog would record it: the steps check the file against these before using it.
  const content = fs.existsSync(file) ? fs.readFileSync(file) : Buffer.alloc(0);
  return {
    asset: {
      id: createHash('sha256').update(content).digest('hex'),
      mediaType,
      mime: options.mime ?? null,
      size: content.length,
      file,
    },
    params,
    inputs: [],
    sidecars: options.sidecars ?? [],
    signal: options.signal ?? new AbortController().signal,
    scratchDir: options.scratchDir ?? testScratch(),
  };
}

export const THUMBNAIL_DEFAULTS: z.infer<typeof ThumbnailParams> = {
  size: 256,
  quality: 80,
  format: 'webp',
  position: 0.1,
};

/**
 * The upright picture the orientation tests expect to see: top-left quarter red, top-right quarter
 * green, bottom half blue. A rotation moves the blue half; a mirror swaps red and green.
 */
export async function uprightPicture(width = 300, height = 200): Promise<Buffer> {
  const quarter = (r: number, g: number, b: number) =>
    sharp({ create: { width: width / 2, height: height / 2, channels: 3, background: { r, g, b } } })
      .png()
      .toBuffer();
  return sharp({ create: { width, height, channels: 3, background: { r: 0, g: 0, b: 255 } } })
    .composite([
      { input: await quarter(255, 0, 0), left: 0, top: 0 },
      { input: await quarter(0, 255, 0), left: width / 2, top: 0 },
    ])
    .png()
    .toBuffer();
}

/** One sharp operation per pass: the order of rotate and flop inside one pipeline is sharp's to choose. */
async function step(input: Buffer, op: 'rot90' | 'rot180' | 'rot270' | 'flop' | 'flip'): Promise<Buffer> {
  const image = sharp(input);
  const done =
    op === 'flop'
      ? image.flop()
      : op === 'flip'
        ? image.flip()
        : image.rotate(op === 'rot90' ? 90 : op === 'rot180' ? 180 : 270);
  return done.png().toBuffer();
}

/**
 * The pixels a camera stores for an upright scene when it tags EXIF orientation `n`: the inverse of
 * what a viewer applies for `n` (2, 3, 4, 5, 7 are their own inverses; 6 and 8 are each other's).
 */
export async function storedFor(upright: Buffer, n: number): Promise<Buffer> {
  switch (n) {
    case 2:
      return step(upright, 'flop');
    case 3:
      return step(upright, 'rot180');
    case 4:
      return step(upright, 'flip');
    case 5: // transpose: a quarter turn clockwise, then a mirror
      return step(await step(upright, 'rot90'), 'flop');
    case 6: // the viewer turns it 90° clockwise, so it is stored 90° counter-clockwise
      return step(upright, 'rot270');
    case 7: // transverse: three quarter turns, then a mirror
      return step(await step(upright, 'rot270'), 'flop');
    case 8:
      return step(upright, 'rot90');
    default:
      return upright;
  }
}

export type Colour = 'red' | 'green' | 'blue' | 'black' | 'other';

/** The colour at a point given as fractions of width and height. */
export async function colourAt(image: Buffer, fx: number, fy: number): Promise<Colour> {
  const { data, info } = await sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const x = Math.min(info.width - 1, Math.floor(fx * info.width));
  const y = Math.min(info.height - 1, Math.floor(fy * info.height));
  const i = (y * info.width + x) * info.channels;
  const [r, g, b] = [data[i]!, data[i + 1]!, data[i + 2]!];
  if (r > 180 && g < 90 && b < 90) return 'red';
  if (g > 180 && r < 90 && b < 90) return 'green';
  if (b > 180 && r < 90 && g < 90) return 'blue';
  if (r < 40 && g < 40 && b < 40) return 'black';
  return 'other';
}

/** Asserts the quadrant picture is upright and unmirrored. */
export async function layoutOf(image: Buffer): Promise<[Colour, Colour, Colour]> {
  return [
    await colourAt(image, 0.25, 0.25),
    await colourAt(image, 0.75, 0.25),
    await colourAt(image, 0.5, 0.75),
  ];
}

/** Runs the metadata step on a file. */
export async function outcomeOf(file: string, mediaType: MediaType = 'image'): Promise<StepOutcome> {
  return metadataStep.run(context(file, mediaType, {}));
}

export async function metadataOf(file: string, mediaType: MediaType = 'image'): Promise<NormalizedMetadata> {
  const outcome = await outcomeOf(file, mediaType);
  if (outcome.status !== 'done' || !outcome.output?.bytes) throw new Error(JSON.stringify(outcome));
  expect(outcome.output).toMatchObject({ mime: 'application/json', extension: 'json' });
  return JSON.parse(outcome.output.bytes.toString('utf8')) as NormalizedMetadata;
}

/** A small JPEG with the given tags written by exiftool (GPS as signed degrees: it sets the N/S, E/W refs). */
