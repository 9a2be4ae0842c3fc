import fs from 'node:fs';
import path from 'node:path';
import { ExifTool } from 'exiftool-vendored';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StepOutcome } from '../../../src/pipeline/step.js';
import { thumbnailStep } from '../../../src/pipeline/steps/thumbnail.js';
import { configureTools, endTools } from '../../../src/pipeline/tools/lifecycle.js';
import { imageHeader } from '../../../src/pipeline/tools/sharp-tool.js';
import { nativeHeader } from '../../../src/pipeline/tools/vips-header.js';
import { tempDir } from '../../helpers/cli.js';
import {
  context,
  fixture,
  layoutOf,
  storedFor,
  THUMBNAIL_DEFAULTS,
  uprightPicture,
} from './media-helpers.js';

type Params = typeof THUMBNAIL_DEFAULTS;

let dir: string;
let cleanup: () => void;
/** Our own exiftool to write test files; the step's ports use the shared one. */
const writer = new ExifTool({ maxProcs: 1 });

beforeAll(() => {
  ({ dir, cleanup } = tempDir('archivist-thumb-'));
});
afterAll(async () => {
  await writer.end();
  await endTools();
  cleanup();
});

async function thumbnail(file: string, params: Partial<Params> = {}, mime: string | null = null) {
  const outcome = await thumbnailStep.run(
    context(file, 'image', { ...THUMBNAIL_DEFAULTS, ...params }, { mime }),
  );
  return outcome;
}

function bytesOf(outcome: StepOutcome): Buffer {
  if (outcome.status !== 'done' || !outcome.output?.bytes) {
    throw new Error(`expected a thumbnail, got ${JSON.stringify(outcome)}`);
  }
  return outcome.output.bytes;
}

describe('thumbnail: EXIF orientation', () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8])(
    'orientation %i comes out upright, unmirrored, 256 px wide',
    async (n) => {
      const stored = await storedFor(await uprightPicture(300, 200), n);
      const file = path.join(dir, `orientation_${n}.jpg`);
      await sharp(stored).jpeg({ quality: 95 }).withMetadata({ orientation: n }).toFile(file);
      expect((await sharp(file).metadata()).orientation).toBe(n);

      const thumb = bytesOf(await thumbnail(file));
      const meta = await sharp(thumb).metadata();
      expect(meta.format).toBe('webp');
      // 300x200 as displayed, whatever the stored shape: the longest edge becomes 256.
      expect([meta.width, meta.height]).toEqual([256, 171]);
      expect(await layoutOf(thumb)).toEqual(['red', 'green', 'blue']);
      // The thumbnail carries no orientation of its own, nor any other metadata.
      expect(meta.orientation).toBeUndefined();
      expect(meta.exif).toBeUndefined();
    },
  );

  it('turns the real portrait_6.jpg sample upright (portrait thumbnail)', async () => {
    const thumb = bytesOf(await thumbnail(fixture('jpg/orientation/portrait_6.jpg')));
    const meta = await sharp(thumb).metadata();
    expect(meta.height).toBe(256);
    expect(meta.width).toBeLessThan(256);
  });
});

describe('thumbnail: RAW via the embedded preview', () => {
  /** A TIFF-based "RAW": sensor-ish strips plus a PreviewImage JPEG, as DNG and most RAW formats are. */
  async function fakeRaw(n: number, extension = 'dng'): Promise<string> {
    const file = path.join(dir, `raw_${n}.${extension}`);
    await sharp({ create: { width: 64, height: 48, channels: 3, background: '#808080' } })
      .tiff()
      .toFile(file);
    const preview = path.join(dir, `preview_${n}.jpg`);
    // The preview is stored as the sensor saw it and, to prove the RAW's tag is the one used, carries a
    // wrong orientation of its own.
    await sharp(await storedFor(await uprightPicture(600, 400), n))
      .jpeg()
      .withMetadata({ orientation: n === 1 ? 3 : 1 })
      .toFile(preview);
    await writer.write(
      file,
      { Orientation: n },
      {
        writeArgs: ['-overwrite_original', '-n', `-PreviewImage<=${preview}`],
      },
    );
    return file;
  }

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('orientation %i of the RAW applies to its preview', async (n) => {
    const file = await fakeRaw(n);
    const thumb = bytesOf(await thumbnail(file, {}, 'image/x-adobe-dng'));
    const meta = await sharp(thumb).metadata();
    expect([meta.width, meta.height]).toEqual([256, 171]);
    expect(await layoutOf(thumb)).toEqual(['red', 'green', 'blue']);
  });

  it('fails as unsupported-format, naming the problem, when a RAW embeds no preview', async () => {
    const file = path.join(dir, 'nopreview.nef');
    await sharp({ create: { width: 64, height: 48, channels: 3, background: '#808080' } })
      .tiff()
      .toFile(file);
    const outcome = await thumbnail(file);
    expect(outcome).toMatchObject({ status: 'failed', reason: 'unsupported-format' });
    expect((outcome as { message: string }).message).toMatch(/no embedded JPEG preview/);
  });
});

/** The two HEIC paths: the system's vipsthumbnail (libheif 1.15, libde265), and WebAssembly libheif. */
const HEIC_PATHS = [
  ['native vipsthumbnail', undefined, /^vipsthumbnail \S+ \(libheif \S+\) → sharp \S+$/],
  ['WebAssembly fallback', false, /^libheif-js \S+ → sharp \S+$/],
] as const;

describe.each(HEIC_PATHS)('thumbnail: HEIC/HEIF through the %s', (_name, vipsthumbnail, decoder) => {
  beforeAll(() => configureTools(vipsthumbnail === false ? { vipsthumbnail } : {}));
  afterAll(() => configureTools({}));

  it('decodes an HEVC iPhone HEIC (which the libvips in sharp cannot) and keeps it portrait', async () => {
    const outcome = await thumbnail(fixture('heic/IMG_5195.HEIC'), {}, 'image/heic');
    const meta = await sharp(bytesOf(outcome)).metadata();
    // 2566x3313 portrait
    expect([meta.width, meta.height]).toEqual([198, 256]);
    expect(meta.exif).toBeUndefined();
    expect(meta.icc).toBeUndefined();
    expect(outcome.status === 'done' && outcome.decoder).toMatch(decoder);
  });

  it('applies the HEIF rotation (irot) once: the iPhone 13 picture stored landscape shows portrait', async () => {
    const thumb = bytesOf(await thumbnail(fixture('heic/iphone_13_pro_max.HEIC'), {}, 'image/heic'));
    const meta = await sharp(thumb).metadata();
    expect([meta.width, meta.height]).toEqual([192, 256]);
  });

  it('decodes a small HEIF sample', async () => {
    const thumb = bytesOf(await thumbnail(fixture('heic/samplefilehub.heif')));
    expect((await sharp(thumb).metadata()).width).toBe(256);
  });
});

describe('thumbnail: the native and the WebAssembly HEIC paths make the same picture', () => {
  afterAll(() => configureTools({}));

  /** The thumbnail as raw sRGB pixels, made by one path. */
  async function pixels(file: string, native: boolean) {
    configureTools(native ? {} : { vipsthumbnail: false });
    const thumb = bytesOf(await thumbnail(file, { size: 256, quality: 100 }, 'image/heic'));
    return sharp(thumb).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  }

  it.each(['heic/IMG_5195.HEIC', 'heic/iphone_13_pro_max.HEIC', 'heic/samplefilehub.heif'])(
    '%s: same size, same orientation, pixels within a small difference',
    async (rel) => {
      const native = await pixels(fixture(rel), true);
      const wasm = await pixels(fixture(rel), false);
      expect([native.info.width, native.info.height]).toEqual([wasm.info.width, wasm.info.height]);
      let sum = 0;
      for (let i = 0; i < native.data.length; i++) sum += Math.abs(native.data[i]! - wasm.data[i]!);
      const meanDifference = sum / native.data.length;
      // Measured 0.3 to 11 of 255: the iPhone 13's native thumbnail comes from its embedded 240×320
      // preview, and only the native path applies the Display P3 profile (the WebAssembly decoder
      // hands back bare RGB). A rotated or mirrored picture differs by 50 and more.
      expect(meanDifference).toBeLessThan(16);
      const mirrored = await sharp(wasm.data, { raw: wasm.info }).flop().raw().toBuffer();
      let mirroredSum = 0;
      for (let i = 0; i < native.data.length; i++) mirroredSum += Math.abs(native.data[i]! - mirrored[i]!);
      expect(mirroredSum / native.data.length).toBeGreaterThan(meanDifference);
    },
  );
});

describe('thumbnail: a picture too large to read into memory', () => {
  // Over 48 MiB an original is not read into the worker's memory; sharp could only open a name of its
  // descriptor (a new open file, without O_NOATIME). The system's vipsheader and vipsthumbnail read the
  // descriptor itself, and the picture must come out as sharp would make it: upright, sRGB, no tags.
  it.skipIf(!fs.existsSync('/usr/bin/vipsthumbnail'))(
    'a 52 MB TIFF scan stored sideways (orientation 6): upright through vipsthumbnail, as sharp makes it small',
    async () => {
      const upright = await uprightPicture(5100, 3400);
      const stored = await storedFor(upright, 6);
      const big = path.join(dir, 'big-scan.tif');
      await sharp(stored).withMetadata({ orientation: 6 }).tiff({ compression: 'none' }).toFile(big);
      expect(fs.statSync(big).size).toBeGreaterThan(48 * 1024 * 1024);
      const small = path.join(dir, 'small-scan.tif');
      await sharp(stored)
        .resize(1275)
        .withMetadata({ orientation: 6 })
        .tiff({ compression: 'lzw' })
        .toFile(small);
      expect(fs.statSync(small).size).toBeLessThan(48 * 1024 * 1024);

      const bigOutcome = await thumbnail(big);
      expect(bigOutcome.status === 'done' && bigOutcome.decoder).toMatch(/^vipsthumbnail [\d.]+.* → sharp/);
      const smallOutcome = await thumbnail(small);
      expect(smallOutcome.status === 'done' && smallOutcome.decoder).toMatch(/^sharp /);
      for (const thumb of [bytesOf(bigOutcome), bytesOf(smallOutcome)]) {
        const meta = await sharp(thumb).metadata();
        expect([meta.width, meta.height]).toEqual([256, 171]);
        expect(await layoutOf(thumb)).toEqual(['red', 'green', 'blue']);
        expect(meta.orientation).toBeUndefined();
        expect(meta.exif).toBeUndefined();
      }
    },
  );
});

describe('vipsheader on a descriptor', () => {
  // The header decides the budget checks (a progressive JPEG and an interlaced PNG are decoded whole):
  // what vipsheader says must be what sharp says.
  it.skipIf(!fs.existsSync('/usr/bin/vipsheader'))('tells what sharp tells', async () => {
    const base = sharp({ create: { width: 300, height: 200, channels: 3, background: '#c05020' } });
    const files = {
      'progressive.jpg': await base.clone().jpeg({ progressive: true }).toBuffer(),
      'baseline.jpg': await base.clone().jpeg({ chromaSubsampling: '4:4:4' }).toBuffer(),
      'interlaced.png': await base.clone().png({ progressive: true }).toBuffer(),
      'deep.png': await base.clone().toColourspace('rgb16').png().toBuffer(),
      'alpha.webp': await base.clone().ensureAlpha().webp().toBuffer(),
    };
    for (const [name, bytes] of Object.entries(files)) {
      const file = path.join(dir, name);
      fs.writeFileSync(file, bytes);
      const handle = await fs.promises.open(file, 'r');
      try {
        const native = await nativeHeader({ fd: handle.fd, signal: new AbortController().signal, cwd: dir });
        expect(native, name).toEqual(await imageHeader({ buffer: bytes }));
      } finally {
        await handle.close();
      }
    }
  });
});

describe('thumbnail: formats, colour, size, params', () => {
  const red = () =>
    sharp({ create: { width: 400, height: 300, channels: 3, background: { r: 220, g: 20, b: 20 } } });

  it.each([
    ['png', () => red().png()],
    ['gif', () => red().gif()],
    ['webp', () => red().webp()],
    ['tiff', () => red().tiff()],
    ['avif', () => red().avif()],
    ['progressive.jpg', () => red().jpeg({ progressive: true })],
    ['cmyk.jpg', () => red().toColourspace('cmyk').jpeg()],
    ['p3.jpg', () => red().withIccProfile('p3').jpeg()],
    ['16bit.png', () => red().toColourspace('rgb16').png()],
  ])('reads %s, and writes an sRGB WebP without a profile', async (name, make) => {
    const file = path.join(dir, `format.${name}`);
    await make().toFile(file);
    const thumb = bytesOf(await thumbnail(file));
    const meta = await sharp(thumb).metadata();
    expect([meta.format, meta.width, meta.height, meta.space]).toEqual(['webp', 256, 192, 'srgb']);
    expect(meta.icc).toBeUndefined();
    const { channels } = await sharp(thumb).stats();
    expect(channels[0]!.mean).toBeGreaterThan(150);
    expect(channels[1]!.mean).toBeLessThan(80);
  });

  it('strips GPS and camera tags from the thumbnail', async () => {
    const file = path.join(dir, 'gps.jpg');
    fs.copyFileSync(fixture('jpg/gps/DSCN0010.jpg'), file);
    const thumb = bytesOf(await thumbnail(file));
    const meta = await sharp(thumb).metadata();
    expect(meta.exif).toBeUndefined();
    expect(meta.xmp).toBeUndefined();
    expect(thumb.includes(Buffer.from('NIKON'))).toBe(false);
  });

  it('never enlarges, and honours size, quality and format=jpeg', async () => {
    const small = path.join(dir, 'small.png');
    await sharp({
      create: { width: 100, height: 50, channels: 4, background: { r: 0, g: 0, b: 255, alpha: 0.5 } },
    })
      .png()
      .toFile(small);
    const kept = await sharp(bytesOf(await thumbnail(small))).metadata();
    expect([kept.width, kept.height]).toEqual([100, 50]);

    const outcome = await thumbnail(fixture('jpg/Canon_40D.jpg'), { size: 64, format: 'jpeg', quality: 50 });
    expect(outcome).toMatchObject({ status: 'done', output: { mime: 'image/jpeg', extension: 'jpg' } });
    const meta = await sharp(bytesOf(outcome)).metadata();
    expect([meta.format, Math.max(meta.width, meta.height), meta.channels]).toEqual(['jpeg', 64, 3]);
  });

  it('refuses params outside the schema (size 8, quality 0, position 2, format png)', () => {
    const schema = thumbnailStep.params.strict();
    expect(schema.parse({})).toEqual(THUMBNAIL_DEFAULTS);
    for (const bad of [
      { size: 8 },
      { size: 5000 },
      { size: 100.5 },
      { quality: 0 },
      { position: 2 },
      { format: 'png' },
    ]) {
      expect(schema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });
});

describe('thumbnail: broken files fail with a reason', () => {
  it('a file that is not a picture at all: unsupported-format, with what libvips said', async () => {
    const file = path.join(dir, 'noise.jpg');
    fs.writeFileSync(
      file,
      Buffer.from('this is not a picture, just some text pretending to be one\n'.repeat(20)),
    );
    const outcome = await thumbnail(file);
    expect(outcome).toMatchObject({ status: 'failed', reason: 'unsupported-format' });
    expect((outcome as { message: string }).message).toMatch(/^sharp: .*unsupported image format/);
  });

  it('a JPEG cut in half: decode-error with the decoder message and stderr tail, or a partial picture', async () => {
    const whole = fs.readFileSync(fixture('jpg/Canon_40D.jpg'));
    const file = path.join(dir, 'truncated.jpg');
    fs.writeFileSync(file, whole.subarray(0, Math.floor(whole.length / 2)));
    const outcome = await thumbnail(file);
    if (outcome.status === 'failed') {
      expect(outcome.reason).toBe('decode-error');
      expect(outcome.message).toMatch(/^sharp: /);
      expect(outcome.message).not.toContain('\n');
      expect(outcome.stderrTail).toBeTruthy();
    } else {
      expect(outcome.status).toBe('done');
    }
  });
});
