import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ExifTool } from 'exiftool-vendored';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectMediaKind } from '../../../src/catalog/media-type.js';
import type { StepOutcome } from '../../../src/pipeline/step.js';
import { metadataStep } from '../../../src/pipeline/steps/metadata.js';
import { thumbnailStep } from '../../../src/pipeline/steps/thumbnail.js';
import { configureTools, endTools } from '../../../src/pipeline/tools/lifecycle.js';
import { thumbnailsInDump } from '../../../src/pipeline/tools/vips-cli.js';
import type { MediaType } from '../../../src/store/schema.js';
import { REPO_ROOT, tempDir } from '../../helpers/cli.js';
import { canonCr3, canonCr3WithoutPreview, fujiRaf, minoltaMrw, tiffRaw } from '../../helpers/raw-files.js';
import {
  context,
  ffmpeg,
  fixture,
  layoutOf,
  storedFor,
  THUMBNAIL_DEFAULTS,
  uprightPicture,
} from './media-helpers.js';

/**
 * Every format of PRODUCT section 4, plus the ones issue 13 found misclassified or failing (Immich's
 * 10-bit HDR P3 AVIF, WMV, DV, Minolta MRW, PSD, a small JPEG XL): how the catalog types it, which decoder
 * chain makes its thumbnail (or why none can), and what its metadata item ends as. The files are the
 * HEIC fixtures (see test/fixtures/media/ATTRIBUTION.md) and files generated here with sharp, ffmpeg,
 * the system's vips and heif-enc (CI installs libvips-tools and libheif-examples), and hand-written RAWs.
 */

const execFileAsync = promisify(execFile);
let dir: string;
let cleanup: () => void;
const writer = new ExifTool({ maxProcs: 1 });

/** Runs a system tool as the test's generator, without sharp's VIPSHOME (it hides the system's modules). */
async function system(command: string, args: string[]): Promise<void> {
  const env = { ...process.env };
  delete env.VIPSHOME;
  await execFileAsync(command, args, { env });
}

const SHARP = /^sharp \S+ \(libvips \S+\)$/;
const NATIVE = /^vipsthumbnail \S+ \(libheif \S+\) → sharp \S+$/;
const RAW = /^exiftool \S+ (PreviewImage|OtherImage|ThumbnailImage|JpgFromRaw) → sharp \S+ \(libvips \S+\)$/;
const VIDEO = /^ffmpeg \S+ frame at \d+\.\d s → sharp \S+$/;

interface FormatCase {
  name: string;
  file: string;
  make: (file: string) => Promise<void>;
  mediaType: MediaType;
  /** The decoder chain of the thumbnail, or the failure it must end with. */
  thumbnail: RegExp | { reason: string; message: RegExp };
  /** Longest edge of the thumbnail (the original's when it is smaller than 256). */
  edge?: number;
  metadata: 'done' | { reason: string; message: RegExp };
}

const picture = () => uprightPicture(600, 400);
/** Files made for the decoder tests alone (test/fixtures/formats/ATTRIBUTION.md), not part of the drills' archive. */
const FORMAT_FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'formats');
const viaSharp = (encode: (image: sharp.Sharp) => sharp.Sharp) => async (file: string) => {
  await encode(sharp(await picture())).toFile(file);
};

/**
 * A 16-bit RGB PNG of the test picture, as heif-enc wants for a high-bit-depth AVIF (without an alpha
 * channel: Debian's libaom 3.6 fails to encode one at 10 bits).
 */
async function png16(file: string): Promise<void> {
  await sharp(await picture())
    .removeAlpha()
    .toColourspace('rgb16')
    .png()
    .toFile(file);
}

async function rawPreviewJpeg(orientation: number): Promise<Buffer> {
  // Stored as the sensor saw it: the RAW's orientation turns it upright.
  return sharp(await storedFor(await picture(), orientation))
    .jpeg()
    .toBuffer();
}

async function exiftoolRaw(file: string): Promise<void> {
  await sharp({ create: { width: 64, height: 48, channels: 3, background: '#808080' } })
    .tiff()
    .toFile(file);
  const preview = `${file}.preview.jpg`;
  fs.writeFileSync(preview, await rawPreviewJpeg(6));
  await writer.write(
    file,
    { Orientation: 6 },
    { writeArgs: ['-overwrite_original', '-n', `-PreviewImage<=${preview}`] },
  );
  fs.rmSync(preview);
}

const rawFile =
  (build: (jpeg: Buffer) => Buffer) =>
  async (file: string): Promise<void> => {
    fs.writeFileSync(file, build(await rawPreviewJpeg(6)));
  };

/** A minimal RGB Photoshop file: header, empty sections, raw planar pixels of the test picture. */
async function psd(file: string): Promise<void> {
  const { data, info } = await sharp(await picture())
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const { width, height } = info;
  const header = Buffer.alloc(26);
  header.write('8BPS', 0, 'latin1');
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(3, 12);
  header.writeUInt32BE(height, 14);
  header.writeUInt32BE(width, 18);
  header.writeUInt16BE(8, 22);
  header.writeUInt16BE(3, 24);
  const planes = Buffer.alloc(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) planes[c * width * height + i] = data[i * 3 + c]!;
  }
  fs.writeFileSync(file, Buffer.concat([header, Buffer.alloc(12), Buffer.alloc(2), planes]));
}

const video = (args: string) => (file: string) =>
  ffmpeg(`-f lavfi -i testsrc=size=320x240:rate=25 -f lavfi -i sine=frequency=440 -t 2 ${args}`, file);

const CASES: FormatCase[] = [
  {
    name: 'JPEG baseline',
    file: 'baseline.jpg',
    make: viaSharp((i) => i.jpeg()),
    mediaType: 'image',
    thumbnail: SHARP,
    metadata: 'done',
  },
  {
    name: 'JPEG progressive',
    file: 'progressive.jpg',
    make: viaSharp((i) => i.jpeg({ progressive: true })),
    mediaType: 'image',
    thumbnail: SHARP,
    metadata: 'done',
  },
  {
    name: 'PNG',
    file: 'picture.png',
    make: viaSharp((i) => i.png()),
    mediaType: 'image',
    thumbnail: SHARP,
    metadata: 'done',
  },
  {
    name: 'TIFF',
    file: 'picture.tif',
    make: viaSharp((i) => i.tiff()),
    mediaType: 'image',
    thumbnail: SHARP,
    metadata: 'done',
  },
  {
    name: 'WebP',
    file: 'picture.webp',
    make: viaSharp((i) => i.webp()),
    mediaType: 'image',
    thumbnail: SHARP,
    metadata: 'done',
  },
  {
    name: 'GIF',
    file: 'picture.gif',
    make: viaSharp((i) => i.gif()),
    mediaType: 'image',
    thumbnail: SHARP,
    metadata: 'done',
  },
  {
    name: 'AVIF 8-bit',
    file: 'a8.avif',
    make: viaSharp((i) => i.avif()),
    mediaType: 'image',
    thumbnail: SHARP,
    metadata: 'done',
  },
  {
    // Like Immich's 10bit-HDR-P3-nclx.avif: 10 bits, Display P3 primaries, PQ transfer, in an nclx box.
    name: 'AVIF 10-bit HDR P3 nclx',
    file: '10bit-HDR-P3-nclx.avif',
    make: async (file) => {
      await png16(`${file}.png`);
      await system('heif-enc', [
        ...['-A', '-b', '10', '-p', 'chroma=422', '-q', '60'],
        ...['--colour_primaries=12', '--transfer_characteristic=16', '--matrix_coefficients=9'],
        ...['-o', file, `${file}.png`],
      ]);
    },
    mediaType: 'image',
    thumbnail: NATIVE,
    metadata: 'done',
  },
  {
    name: 'AVIF 12-bit',
    file: 'a12.avif',
    make: async (file) => {
      await png16(`${file}.png`);
      await system('heif-enc', ['-A', '-b', '12', '-p', 'chroma=422', '-q', '60', '-o', file, `${file}.png`]);
    },
    mediaType: 'image',
    thumbnail: NATIVE,
    metadata: 'done',
  },
  {
    name: 'HEIC (iPhone 11 Pro Max, fixture)',
    file: 'IMG_5195.HEIC',
    make: (file) => Promise.resolve(fs.copyFileSync(fixture('heic/IMG_5195.HEIC'), file)),
    mediaType: 'image',
    thumbnail: NATIVE,
    metadata: 'done',
  },
  {
    name: 'HEIC with an embedded thumbnail and irot (iPhone 13 Pro Max, fixture)',
    file: 'iphone_13_pro_max.HEIC',
    make: (file) => Promise.resolve(fs.copyFileSync(fixture('heic/iphone_13_pro_max.HEIC'), file)),
    mediaType: 'image',
    thumbnail: NATIVE,
    metadata: 'done',
  },
  {
    name: 'HEIF (small sample, fixture)',
    file: 'samplefilehub.heif',
    make: (file) => Promise.resolve(fs.copyFileSync(fixture('heic/samplefilehub.heif'), file)),
    mediaType: 'image',
    thumbnail: NATIVE,
    metadata: 'done',
  },
  {
    name: 'HEIC made by heif-enc (x265)',
    file: 'made.heic',
    make: async (file) => {
      await sharp(await picture())
        .png()
        .toFile(`${file}.png`);
      await system('heif-enc', ['-q', '60', '-o', file, `${file}.png`]);
    },
    mediaType: 'image',
    thumbnail: NATIVE,
    metadata: 'done',
  },
  {
    // 15 KB that declare 9000×7000: decoding the primary image whole would take the native child past
    // 400 MB (issue 13), so it is refused before it starts, with the figures.
    name: 'HEIC declaring 63 MP with no embedded thumbnail',
    file: 'declares-63mp.heic',
    make: (file) => Promise.resolve(fs.copyFileSync(path.join(FORMAT_FIXTURES, 'declares-63mp.heic'), file)),
    mediaType: 'image',
    thumbnail: {
      reason: 'too-large',
      message:
        /^9000×7000 HEIF: it has no embedded thumbnail of at least 256 px, and decoding its primary image whole takes about 421 MiB, more than the 400 MiB .*; it is not a grid of HEVC tiles/,
    },
    metadata: 'done',
  },
  {
    // The same picture with a 400 px thumbnail item, as phones write one: vipsthumbnail decodes that.
    name: 'HEIC declaring 63 MP with a 400 px thumbnail item',
    file: 'declares-63mp-thumb400.heic',
    make: (file) =>
      Promise.resolve(fs.copyFileSync(path.join(FORMAT_FIXTURES, 'declares-63mp-thumb400.heic'), file)),
    mediaType: 'image',
    thumbnail: NATIVE,
    metadata: 'done',
  },
  {
    name: 'JPEG XL, small (a bare codestream)',
    file: 'small.jxl',
    make: async (file) => {
      await sharp(await picture())
        .png()
        .toFile(`${file}.png`);
      await system('vips', ['copy', `${file}.png`, file]);
    },
    mediaType: 'image',
    thumbnail: /^vipsthumbnail \S+ \(libheif \S+\) → sharp \S+$/,
    metadata: 'done',
  },
  {
    name: 'PSD',
    file: 'picture.psd',
    make: psd,
    mediaType: 'image',
    thumbnail: /^ffmpeg \S+ still → sharp \S+$/,
    metadata: 'done',
  },
  {
    name: 'CR2',
    file: 'camera.cr2',
    make: exiftoolRaw,
    mediaType: 'image',
    thumbnail: RAW,
    metadata: 'done',
  },
  {
    name: 'DNG',
    file: 'camera.dng',
    make: exiftoolRaw,
    mediaType: 'image',
    thumbnail: RAW,
    metadata: 'done',
  },
  {
    name: 'NEF',
    file: 'camera.nef',
    make: rawFile((jpeg) => tiffRaw({ make: 'NIKON CORPORATION', orientation: 6, jpeg })),
    mediaType: 'image',
    thumbnail: RAW,
    metadata: 'done',
  },
  {
    name: 'ARW',
    file: 'camera.arw',
    make: rawFile((jpeg) => tiffRaw({ make: 'SONY', orientation: 6, jpeg })),
    mediaType: 'image',
    thumbnail: RAW,
    metadata: 'done',
  },
  {
    name: 'ORF',
    file: 'camera.orf',
    make: rawFile((jpeg) => tiffRaw({ make: 'OLYMPUS', orientation: 6, jpeg, magic: 0x4f52 })),
    mediaType: 'image',
    thumbnail: RAW,
    metadata: 'done',
  },
  {
    name: 'RW2',
    file: 'camera.rw2',
    make: rawFile((jpeg) =>
      tiffRaw({ make: 'Panasonic', orientation: 6, jpeg, magic: 0x55, jpegAsTag: 0x2e }),
    ),
    mediaType: 'image',
    thumbnail: RAW,
    metadata: 'done',
  },
  {
    // A RAF's orientation is the embedded JPEG's own: this one is stored upright.
    name: 'RAF',
    file: 'camera.raf',
    make: async (file) => fs.writeFileSync(file, fujiRaf(await rawPreviewJpeg(1))),
    mediaType: 'image',
    thumbnail: RAW,
    metadata: 'done',
  },
  {
    name: 'MRW (Minolta)',
    file: 'camera.mrw',
    make: rawFile((jpeg) => minoltaMrw(tiffRaw({ make: 'Minolta Co., Ltd.', orientation: 6, jpeg }))),
    mediaType: 'image',
    thumbnail: RAW,
    metadata: 'done',
  },
  {
    // Canon's preview uuid with its PRVW box, the camera's IFD0 (orientation 6) in CMT1.
    name: 'CR3',
    file: 'camera.cr3',
    make: async (file) => {
      const jpeg = await rawPreviewJpeg(6);
      const { width, height } = await sharp(jpeg).metadata();
      fs.writeFileSync(file, canonCr3({ jpeg, width, height, orientation: 6 }));
    },
    mediaType: 'image',
    thumbnail: RAW,
    metadata: 'done',
  },
  {
    // Only the file type: no preview and no tags, and both items say so.
    name: 'CR3 without a preview',
    file: 'no-preview.cr3',
    make: rawFile(() => canonCr3WithoutPreview()),
    mediaType: 'image',
    thumbnail: { reason: 'unsupported-format', message: /no embedded JPEG preview/ },
    metadata: { reason: 'no-metadata', message: /no readable metadata \(CRX\)/ },
  },
  {
    name: 'MP4',
    file: 'clip.mp4',
    make: video('-c:v libx264 -pix_fmt yuv420p -c:a aac'),
    mediaType: 'video',
    thumbnail: VIDEO,
    metadata: 'done',
  },
  {
    name: 'MOV',
    file: 'clip.mov',
    make: video('-c:v libx264 -pix_fmt yuv420p -c:a aac'),
    mediaType: 'video',
    thumbnail: VIDEO,
    metadata: 'done',
  },
  {
    name: 'M4V',
    file: 'clip.m4v',
    make: video('-c:v libx264 -pix_fmt yuv420p -c:a aac -f mp4'),
    mediaType: 'video',
    thumbnail: VIDEO,
    metadata: 'done',
  },
  {
    name: 'AVI',
    file: 'clip.avi',
    make: video('-c:v mpeg4 -c:a mp3'),
    mediaType: 'video',
    thumbnail: VIDEO,
    metadata: 'done',
  },
  {
    name: 'MKV',
    file: 'clip.mkv',
    make: video('-c:v libx264 -pix_fmt yuv420p -c:a aac'),
    mediaType: 'video',
    thumbnail: VIDEO,
    metadata: 'done',
  },
  {
    name: 'WebM',
    file: 'clip.webm',
    make: video('-c:v libvpx-vp9 -b:v 200k -c:a libopus'),
    mediaType: 'video',
    thumbnail: VIDEO,
    metadata: 'done',
  },
  {
    name: 'MTS',
    file: 'clip.mts',
    make: video('-c:v libx264 -pix_fmt yuv420p -c:a ac3 -f mpegts'),
    mediaType: 'video',
    thumbnail: VIDEO,
    metadata: 'done',
  },
  {
    name: 'M2TS',
    file: 'clip.m2ts',
    make: video('-c:v libx264 -pix_fmt yuv420p -c:a ac3 -f mpegts -mpegts_m2ts_mode 1'),
    mediaType: 'video',
    thumbnail: VIDEO,
    metadata: 'done',
  },
  {
    name: '3GP',
    file: 'clip.3gp',
    make: video('-c:v mpeg4 -c:a aac -ar 16000 -ac 1'),
    mediaType: 'video',
    thumbnail: VIDEO,
    metadata: 'done',
  },
  {
    name: 'WMV',
    file: 'clip.wmv',
    make: video('-c:v wmv2 -c:a wmav2'),
    mediaType: 'video',
    thumbnail: VIDEO,
    metadata: 'done',
  },
  {
    // The audio stream first: the content sniffer then calls it audio/x-ms-asf.
    name: 'WMV with its audio stream first',
    file: 'audio-first.wmv',
    make: (file) =>
      ffmpeg(
        '-f lavfi -i testsrc=size=320x240:rate=25 -f lavfi -i sine -t 2 -map 1:a -map 0:v -c:v wmv2 -c:a wmav2',
        file,
      ),
    mediaType: 'video',
    thumbnail: VIDEO,
    metadata: 'done',
  },
  {
    name: 'DV',
    file: 'clip.dv',
    make: (file) =>
      ffmpeg('-f lavfi -i testsrc=size=720x576:rate=25 -f lavfi -i sine -t 1 -target pal-dv', file),
    mediaType: 'video',
    thumbnail: VIDEO,
    metadata: 'done',
  },
];

beforeAll(async () => {
  ({ dir, cleanup } = tempDir('archivist-formats-'));
  for (const c of CASES) await c.make(path.join(dir, c.file));
}, 240_000);
afterAll(async () => {
  await writer.end();
  await endTools();
  cleanup();
});

function failure(outcome: StepOutcome): { reason: string; message: string } | null {
  return outcome.status === 'failed' ? { reason: outcome.reason, message: outcome.message } : null;
}

describe('every format: media type, thumbnail decoder chain, metadata', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const file = path.join(dir, c.file);
    const head = fs.readFileSync(file).subarray(0, 4100);
    const kind = await detectMediaKind(head, c.file);
    expect(kind.mediaType, 'media type from the catalog').toBe(c.mediaType);

    const thumb = await thumbnailStep.run(
      context(file, c.mediaType, THUMBNAIL_DEFAULTS, { mime: kind.mime }),
    );
    if (c.thumbnail instanceof RegExp) {
      expect(failure(thumb), 'the thumbnail must be made').toBeNull();
      expect(thumb.status).toBe('done');
      if (thumb.status !== 'done') return;
      expect(thumb.decoder).toMatch(c.thumbnail);
      const meta = await sharp(thumb.output!.bytes).metadata();
      expect(meta.format).toBe('webp');
      expect(Math.max(meta.width, meta.height)).toBe(c.edge ?? 256);
      expect(meta.exif).toBeUndefined();
      if (c.mediaType === 'image' && !/HEIC|HEIF/.test(c.name)) {
        // Upright and unmirrored, whatever the decoder: red top left, green top right, blue below.
        expect(await layoutOf(thumb.output!.bytes!)).toEqual(['red', 'green', 'blue']);
      }
    } else {
      expect(thumb).toMatchObject({ status: 'failed', reason: c.thumbnail.reason });
      expect(failure(thumb)!.message).toMatch(c.thumbnail.message);
    }

    const metadata = await metadataStep.run(context(file, c.mediaType, {}, { mime: kind.mime }));
    if (c.metadata === 'done') {
      expect(failure(metadata), 'the metadata must be read').toBeNull();
      expect(metadata.status === 'done' && metadata.decoder).toMatch(/^exiftool \S+( \+ ffprobe \S+)?$/);
    } else {
      expect(metadata).toMatchObject({ status: 'failed', reason: c.metadata.reason });
      expect(failure(metadata)!.message).toMatch(c.metadata.message);
    }
  });
});

describe('a HEIF too large to decode whole, at the edge of its thumbnail item', () => {
  // The 400×310 thumbnail of a 9000×7000 picture: a 300 px output comes from it (a few MB); a 400 px one
  // would be 400×311, more than the thumbnail, so libvips would decode the primary image whole (435 MB
  // of RSS measured): refused before the child starts.
  const file = () => path.join(dir, 'edge-thumb400.heic');
  beforeAll(() => fs.copyFileSync(path.join(FORMAT_FIXTURES, 'declares-63mp-thumb400.heic'), file()));

  it.skipIf(!fs.existsSync('/usr/bin/heif-info'))(
    "reads the thumbnail items from heif-info's box dump (which decodes nothing)",
    async () => {
      const dump = async (name: string) =>
        thumbnailsInDump(
          (await execFileAsync('heif-info', ['--dump-boxes', path.join(FORMAT_FIXTURES, name)])).stdout,
        );
      expect(await dump('declares-63mp-thumb400.heic')).toEqual([{ width: 400, height: 310 }]);
      expect(await dump('declares-63mp.heic')).toEqual([]);
    },
  );

  it('300 px: from the thumbnail item', async () => {
    const outcome = await thumbnailStep.run(
      context(file(), 'image', { ...THUMBNAIL_DEFAULTS, size: 300 }, { mime: 'image/heic' }),
    );
    expect(outcome.status === 'done' && outcome.decoder).toMatch(/^vipsthumbnail /);
  });

  it('400 px: too-large, the thumbnail being one pixel short', async () => {
    const outcome = await thumbnailStep.run(
      context(file(), 'image', { ...THUMBNAIL_DEFAULTS, size: 400 }, { mime: 'image/heic' }),
    );
    expect(outcome).toMatchObject({ status: 'failed', reason: 'too-large' });
    expect(failure(outcome)!.message).toMatch(/no embedded thumbnail of at least 400 px/);
  });
});

describe('without the system vipsthumbnail (tools.vipsthumbnail: false)', () => {
  beforeAll(() => configureTools({ vipsthumbnail: false }));
  afterAll(() => configureTools({}));

  it('a 10-bit AVIF fails as unsupported-format with the real error of every decoder tried and the fix', async () => {
    const file = path.join(dir, '10bit-HDR-P3-nclx.avif');
    const outcome = await thumbnailStep.run(
      context(file, 'image', THUMBNAIL_DEFAULTS, { mime: 'image/avif' }),
    );
    expect(outcome).toMatchObject({ status: 'failed', reason: 'unsupported-format' });
    const { message } = failure(outcome)!;
    // sharp's own reason (not the WebAssembly decoder's "not a HEIC image"), then why nothing else ran.
    expect(message).toMatch(/^sharp: .*Bitstream not supported/);
    expect(message).toMatch(/vipsthumbnail: not installed .*libvips-tools/);
  });

  it('HEIC still works, through the WebAssembly libheif', async () => {
    const file = path.join(dir, 'made.heic');
    const outcome = await thumbnailStep.run(
      context(file, 'image', THUMBNAIL_DEFAULTS, { mime: 'image/heic' }),
    );
    expect(outcome.status === 'done' && outcome.decoder).toMatch(/^libheif-js \S+ → sharp \S+$/);
  });

  it('a JPEG XL fails as unsupported-format naming both decoders', async () => {
    const file = path.join(dir, 'small.jxl');
    const outcome = await thumbnailStep.run(
      context(file, 'image', THUMBNAIL_DEFAULTS, { mime: 'image/jxl' }),
    );
    if (outcome.status === 'done') {
      // An ffmpeg built with libjxl reads it as a still: also a right answer.
      expect(outcome.decoder).toMatch(/^ffmpeg \S+ still → sharp/);
    } else {
      expect(outcome).toMatchObject({ status: 'failed', reason: 'unsupported-format' });
      expect(failure(outcome)!.message).toMatch(/^sharp: .*; vipsthumbnail: not installed.*; ffmpeg: /);
    }
  });
});
