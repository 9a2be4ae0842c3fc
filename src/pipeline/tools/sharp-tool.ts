import { createRequire } from 'node:module';
import path from 'node:path';
import type sharpFactory from 'sharp';
import type { Sharp } from 'sharp';
import { firstLineOf, messageOf, tailOf, ToolError, type ToolReport } from './tool.js';

export interface SharpReport extends ToolReport {
  name: 'sharp';
  /** The libvips sharp was built against; the decoders (HEIF, TIFF, WebP...) are libvips's. */
  libvips: string | null;
}

/**
 * Loads sharp and reports its version and the libvips it runs on. Loaded lazily: the native binding is
 * what fails on a machine with a broken install, and that must be reported, not crash the command.
 */
export async function detectSharp(): Promise<SharpReport> {
  const location = packageDir('sharp');
  try {
    const sharp = (await import('sharp')).default;
    const versions = sharp.versions as Record<string, string | undefined>;
    return {
      name: 'sharp',
      version: versions.sharp ?? null,
      libvips: versions.vips ?? null,
      path: location,
      source: 'npm',
      ok: true,
    };
  } catch (error) {
    return {
      name: 'sharp',
      version: null,
      libvips: null,
      path: location,
      source: location ? 'npm' : null,
      ok: false,
      problem: `sharp cannot be loaded: ${messageOf(error)}`,
      hint: 'Reinstall the dependencies (`npm ci`); sharp downloads a prebuilt libvips for this platform.',
    };
  }
}

function packageDir(name: string): string | null {
  try {
    // Resolving does not load the native binding, so the location is known even when loading fails.
    const entry = createRequire(import.meta.url).resolve(name);
    const marker = `${path.sep}node_modules${path.sep}${name}${path.sep}`;
    const index = entry.lastIndexOf(marker);
    return index === -1 ? path.dirname(entry) : entry.slice(0, index + marker.length - 1);
  } catch {
    return null;
  }
}

/**
 * The sharp (libvips) port used by steps. Loaded lazily, so that a broken native install fails the
 * items that need it (tool-missing) instead of every command that merely lists pipelines.
 */
type SharpFactory = typeof sharpFactory;

let loaded: Promise<SharpFactory> | null = null;

/** The default of `tools.maxPixels`: the 100 megapixels PRODUCT section 4 promises to decode in 400 MB. */
export const DEFAULT_MAX_PIXELS = 100_000_000;
let maxPixels = DEFAULT_MAX_PIXELS;

/** The largest picture (width × height) any decoder is given; larger ones fail as `too-large`. */
export function pixelLimit(): number {
  return maxPixels;
}

export function configurePixelLimit(limit: number | undefined): void {
  maxPixels = limit ?? DEFAULT_MAX_PIXELS;
}

export function loadSharp(): Promise<SharpFactory> {
  if (loaded) return loaded;
  const loading = import('sharp').then((module) => {
    const sharp = module.default;
    // N workers share the cores: the coordinator gives each its share in VIPS_CONCURRENCY.
    const threads = Number.parseInt(process.env.VIPS_CONCURRENCY ?? '', 10);
    if (Number.isFinite(threads) && threads > 0) sharp.concurrency(threads);
    // Every file is decoded once: libvips' operation cache would only hold memory.
    sharp.cache(false);
    return sharp;
  });
  // A failed load is retried by the next caller rather than remembered forever.
  loading.catch(() => {
    loaded = null;
  });
  loaded = loading;
  return loading;
}

/** "0.34.5 (libvips 8.17.3)", or null when sharp cannot be loaded. */
export async function sharpVersion(): Promise<string | null> {
  try {
    const versions = (await loadSharp()).versions as Record<string, string | undefined>;
    return `${versions.sharp ?? '?'} (libvips ${versions.vips ?? '?'})`;
  } catch {
    return null;
  }
}

/**
 * How lineage names sharp in a decoder chain: `sharp 0.34.5 (libvips 8.17.3)` when its libvips decoded
 * the original, `sharp 0.34.5` when it only scaled and encoded what another decoder made.
 */
export async function sharpLabel(decoded: boolean): Promise<string> {
  const versions = (await loadSharp()).versions as Record<string, string | undefined>;
  return decoded
    ? `sharp ${versions.sharp ?? '?'} (libvips ${versions.vips ?? '?'})`
    : `sharp ${versions.sharp ?? '?'}`;
}

/** What a picture's header says, read without decoding its pixels. */
export interface ImageHeader {
  /** libvips' loader name: jpeg, png, webp, gif, tiff, heif (HEIC and AVIF)... */
  format: string;
  width: number;
  /** One page's height (an animated GIF's frame, a multi-page TIFF's first page). */
  height: number;
  /** For heif: `hevc` (HEIC) or `av1` (AVIF). */
  compression?: string;
  /** A progressive JPEG or an interlaced PNG: decoded whole, whatever the size asked. */
  progressive: boolean;
  channels: number;
  /** Bytes per sample of the decoded pixels: 2 for a 16-bit PNG or TIFF. */
  bytesPerSample: number;
  /** A JPEG's chroma subsampling: `4:2:0` (most cameras), `4:4:4`... */
  chromaSubsampling?: string;
}

/** The header of a picture, or a `failed` ToolError when libvips cannot read this kind of file. */
export async function imageHeader(input: ImageInput): Promise<ImageHeader> {
  const sharp = await loadSharp().catch((error: unknown) => {
    throw new ToolError('sharp', 'missing', `sharp cannot be loaded: ${messageOf(error)}`, { cause: error });
  });
  try {
    const meta = await sharp(sourceOf(input), { limitInputPixels: false }).metadata();
    return {
      format: meta.format,
      width: meta.width,
      height: meta.pageHeight ?? meta.height,
      ...(meta.compression ? { compression: meta.compression } : {}),
      progressive: meta.isProgressive === true,
      ...(meta.chromaSubsampling ? { chromaSubsampling: meta.chromaSubsampling } : {}),
      channels: meta.channels ?? 3,
      bytesPerSample: /^(ushort|short)$/.test(meta.depth ?? '')
        ? 2
        : /^(uint|int|float)$/.test(meta.depth ?? '')
          ? 4
          : 1,
    };
  } catch (error) {
    throw sharpFailure(error);
  }
}

/**
 * libvips' message as a ToolError. The loader's own complaint can follow lines of noise ("source: bad
 * seek to 1024" from the heif loader probing a buffer): the first line that is not noise is the verdict.
 */
function sharpFailure(error: unknown): ToolError {
  const message = messageOf(error);
  const telling = message
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '' && !/: bad seek to \d+$/.test(line.trim()))
    .join('\n');
  return new ToolError('sharp', 'failed', `sharp: ${firstLineOf(telling || message)}`, {
    stderrTail: tailOf(message),
    cause: error,
  });
}

function sourceOf(input: ImageInput): string | Buffer {
  if ('file' in input) return input.file;
  if ('buffer' in input) return input.buffer;
  throw new Error('a raw picture has no header');
}

export type ImageInput =
  | { file: string }
  | { buffer: Buffer }
  | { raw: { data: Buffer; width: number; height: number; channels: 1 | 2 | 3 | 4 } };

export interface RenderOptions {
  /** Longest edge; smaller pictures are never enlarged. */
  size: number;
  quality: number;
  format: 'webp' | 'jpeg';
  /**
   * An EXIF orientation (1-8) to apply instead of the input's own: a RAW's embedded preview is oriented
   * by the RAW. Undefined: the input's own EXIF orientation is applied.
   */
  orientation?: number;
}

export interface Rendered {
  data: Buffer;
  width: number;
  height: number;
}

/**
 * Decodes, orients, scales, converts to sRGB and encodes one picture. Metadata is stripped (sharp keeps
 * none unless asked): no GPS or camera serial leaks into a thumbnail. Errors are ToolErrors carrying
 * libvips' message; the caller classifies them.
 */
export async function renderThumbnail(input: ImageInput, options: RenderOptions): Promise<Rendered> {
  const sharp = await loadSharp().catch((error: unknown) => {
    throw new ToolError('sharp', 'missing', `sharp cannot be loaded: ${messageOf(error)}`, { cause: error });
  });
  try {
    // failOn 'error': tolerate libjpeg's warnings (most "corrupt" JPEGs still decode), refuse real errors.
    // Sequential reads with shrink-on-load: a 100-megapixel JPEG is decoded at 1/8 scale, a strip at a
    // time, so a worker stays far below 400 MB. The pixel limit itself was checked before (too-large).
    const source =
      'raw' in input
        ? sharp(input.raw.data, {
            raw: { width: input.raw.width, height: input.raw.height, channels: input.raw.channels },
          })
        : sharp(sourceOf(input), { failOn: 'error', sequentialRead: true, limitInputPixels: maxPixels });
    let image = options.orientation === undefined ? source.rotate() : orient(source, options.orientation);
    image = image
      .resize(options.size, options.size, { fit: 'inside', withoutEnlargement: true })
      .toColourspace('srgb');
    image =
      options.format === 'jpeg'
        ? image.flatten({ background: '#ffffff' }).jpeg({ quality: options.quality, mozjpeg: false })
        : image.webp({ quality: options.quality });
    const { data, info } = await image.toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height };
  } catch (error) {
    throw sharpFailure(error);
  }
}

/**
 * Applies EXIF orientation `n` by hand. sharp always mirrors before it rotates (its documented order),
 * so transpose (5) is a mirror then three quarter turns, and transverse (7) a mirror then one.
 */
function orient(image: Sharp, n: number): Sharp {
  switch (n) {
    case 2:
      return image.flop();
    case 3:
      return image.rotate(180);
    case 4:
      return image.flip();
    case 5:
      return image.flop().rotate(270);
    case 6:
      return image.rotate(90);
    case 7:
      return image.flop().rotate(90);
    case 8:
      return image.rotate(270);
    default:
      return image;
  }
}

/** Mean and spread of a picture's brightness (0-255), to tell a black frame from a dark scene. */
export async function lumaStats(buffer: Buffer): Promise<{ mean: number; stdev: number }> {
  const sharp = await loadSharp();
  const stats = await sharp(buffer).greyscale().stats();
  const channel = stats.channels[0]!;
  return { mean: channel.mean, stdev: channel.stdev };
}
