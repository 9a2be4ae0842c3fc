import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOriginal } from '../../../src/catalog/original-file.js';
import type { StepOutcome } from '../../../src/pipeline/step.js';
import { thumbnailStep } from '../../../src/pipeline/steps/thumbnail.js';
import {
  decodeHeifTiles,
  heifGridOfFile,
  pngWithProfile,
  shrinkFor,
} from '../../../src/pipeline/tools/heif-tiles.js';
import { endTools } from '../../../src/pipeline/tools/lifecycle.js';
import { renderThumbnail } from '../../../src/pipeline/tools/sharp-tool.js';
import { tempDir } from '../../helpers/cli.js';
import { gridOfFile, writeGridHeif } from '../../helpers/heif-grid-file.js';
import { context, fixture, THUMBNAIL_DEFAULTS } from './media-helpers.js';

/**
 * A HEIF grid too large for libheif 1.15 to decode whole within a worker's memory (above ~60 MP) and
 * without a thumbnail item is decoded tile by tile through ffmpeg (issue 13). The pictures are the phone
 * fixtures and grids made of their own coded tiles (test/helpers/heif-grid-file.ts).
 */

const HAS_TOOLS = fs.existsSync('/usr/bin/ffmpeg') && fs.existsSync('/usr/bin/vipsthumbnail');
let dir: string;
let cleanup: () => void;

beforeAll(() => {
  ({ dir, cleanup } = tempDir('archivist-heif-tiles-'));
});
afterAll(async () => {
  await endTools();
  cleanup();
});

const bytesOf = (outcome: StepOutcome) => {
  if (outcome.status !== 'done') throw new Error(`thumbnail ${outcome.status}: ${JSON.stringify(outcome)}`);
  return outcome.output!.bytes!;
};

describe('the grid layout of a phone HEIC, from its meta box', () => {
  it('reads the tiles, the picture size and the rotation', async () => {
    const upright = await gridOfFile(fixture('heic/IMG_5195.HEIC'));
    expect(upright).toMatchObject({
      rows: 7,
      columns: 6,
      width: 2566,
      height: 3313,
      tileWidth: 512,
      orientation: 1,
    });
    expect(upright.tiles).toHaveLength(42);
    // Stored landscape, shown portrait: its irot (three quarter turns anticlockwise) is EXIF's 6, a
    // quarter turn clockwise (the comparison with libheif's own output below checks the direction).
    const turned = await gridOfFile(fixture('heic/iphone_13_pro_max.HEIC'));
    expect(turned).toMatchObject({ rows: 6, columns: 8, width: 4032, height: 3024, orientation: 6 });
  });

  it('shrinks by the largest power of two that keeps the long edge and divides the tiles', async () => {
    const grid = await gridOfFile(fixture('heic/IMG_5195.HEIC'));
    expect(shrinkFor(grid, 256)).toBe(8); // 3313 / 8 = 414 >= 256; / 16 = 207 < 256
    expect(shrinkFor(grid, 2000)).toBe(1);
    expect(shrinkFor({ ...grid, width: 100_000 }, 256)).toBe(32);
  });
});

describe.skipIf(!HAS_TOOLS)('a grid decoded tile by tile', () => {
  /** Raw sRGB pixels of a thumbnail. */
  const pixelsOf = (image: Buffer) => sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true });

  /** The thumbnail as the step makes it (with the picture's ICC profile), or from the bare pixels. */
  async function tiled(file: string, withProfile = true) {
    const original = await openOriginal(file, { size: fs.statSync(file).size });
    try {
      const grid = (await heifGridOfFile(original))!;
      const picture = await decodeHeifTiles(original, grid, {
        size: 256,
        signal: new AbortController().signal,
        scratchDir: dir,
      });
      const png = withProfile ? await pngWithProfile(picture) : null;
      const rendered = await renderThumbnail(png ? { buffer: png } : { raw: picture.raw }, {
        size: 256,
        quality: 100,
        format: 'webp',
        orientation: picture.orientation,
      });
      return { picture, rendered };
    } finally {
      await original.close();
    }
  }

  it.each(['heic/IMG_5195.HEIC', 'heic/iphone_13_pro_max.HEIC'])(
    '%s: the same picture as the native path (size, orientation, pixels)',
    async (rel) => {
      const { rendered, picture } = await tiled(fixture(rel));
      expect(picture.label).toMatch(/^ffmpeg \S+ HEVC tiles \(\d+×\d+ of 512×512, 1\/8\)$/);
      const native = await pixelsOf(
        bytesOf(
          await thumbnailStep.run(context(fixture(rel), 'image', { ...THUMBNAIL_DEFAULTS, quality: 100 })),
        ),
      );
      const ours = await pixelsOf(rendered.data);
      expect([ours.info.width, ours.info.height]).toEqual([native.info.width, native.info.height]);
      const difference = (data: Buffer) => {
        let sum = 0;
        for (let i = 0; i < data.length; i++) sum += Math.abs(data[i]! - native.data[i]!);
        return sum / data.length;
      };
      // Measured 2.0 (IMG_5195) and 8.7 (the iPhone 13, whose native thumbnail comes from its 240×320
      // preview). A tile out of place, a rotation the wrong way or a wrong YCbCr matrix differs by more.
      expect(difference(ours.data)).toBeLessThan(12);
      const mirrored = await sharp(ours.data, { raw: ours.info }).flop().raw().toBuffer();
      expect(difference(mirrored)).toBeGreaterThan(difference(ours.data));
      // Both phones embed Display P3: converting from it to sRGB comes closer to libheif's output
      // (measured 3.5 and 10.3 without it).
      expect(picture.icc).not.toBeNull();
      const bare = await pixelsOf((await tiled(fixture(rel), false)).rendered.data);
      expect(difference(ours.data)).toBeLessThan(difference(bare.data));
    },
  );

  /** The thumbnail step's outcome on a grid made of IMG_5195's tiles (see writeGridHeif). */
  async function gridThumbnail(name: string, layout: Parameters<typeof writeGridHeif>[2]) {
    const file = path.join(dir, name);
    await writeGridHeif(fixture('heic/IMG_5195.HEIC'), file, layout);
    expect(fs.statSync(file).size).toBeLessThan(3 * 1024 * 1024);
    return thumbnailStep.run(context(file, 'image', THUMBNAIL_DEFAULTS, { mime: 'image/heic' }));
  }
  // 16×16 tiles of 512: 8192×8192 coded, cut to 8000×8100 (64.8 MP).
  const GRID_65MP = { columns: 16, rows: 16, width: 8000, height: 8100 };

  it('a 65 MP grid without a thumbnail item: a thumbnail from the tiles, not too-large', async () => {
    const outcome = await gridThumbnail('grid-65mp.heic', GRID_65MP);
    expect(outcome.status === 'done' && outcome.decoder).toMatch(
      /^ffmpeg \S+ HEVC tiles \(16×16 of 512×512, 1\/16\) → sharp \S+$/,
    );
    const meta = await sharp(bytesOf(outcome)).metadata();
    expect([meta.width, meta.height]).toEqual([253, 256]);
    expect(meta.exif).toBeUndefined();
  });

  it('the same grid turned by its irot: portrait becomes landscape', async () => {
    const outcome = await gridThumbnail('grid-65mp-irot.heic', { ...GRID_65MP, irot: 1 });
    const meta = await sharp(bytesOf(outcome)).metadata();
    expect([meta.width, meta.height]).toEqual([256, 253]);
  });

  it('a grid larger than the pixel limit behind a smaller declared size is refused, not allocated', async () => {
    // 20×20 tiles: 10240×10240 = 105 MP, over the 100 MP limit; its ispe claims 8000×8000.
    const outcome = await gridThumbnail('grid-lies.heic', {
      ...{ columns: 20, rows: 20, declared: { width: 8000, height: 8000 } },
    });
    expect(outcome).toMatchObject({ status: 'failed', reason: 'too-large' });
  });

  it('a grid whose tile bytes are damaged fails as a decode error, not a crash', async () => {
    const file = path.join(dir, 'grid-damaged.heic');
    await writeGridHeif(fixture('heic/IMG_5195.HEIC'), file, { columns: 16, rows: 16 });
    const bytes = fs.readFileSync(file);
    // Cut the file in the middle of its tiles: the iloc extents point past the end.
    fs.writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const outcome = await thumbnailStep.run(
      context(file, 'image', THUMBNAIL_DEFAULTS, { mime: 'image/heic' }),
    );
    expect(outcome).toMatchObject({ status: 'failed', reason: 'decode-error' });
  });
});
