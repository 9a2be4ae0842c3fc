import type { OriginalFile } from '../../catalog/original-file.js';
import { REFUSED_DEMUXER } from '../tools/ff-confinement.js';
import { ffToolVersion } from '../tools/ffmpeg-run.js';
import type { HeifGrid } from '../tools/heif-grid.js';
import { decodeHeifTiles, heifGridOfFile, pngWithProfile } from '../tools/heif-tiles.js';
import { decodeHeif, heifDecoderVersion, MAX_HEIF_BYTES } from '../tools/heif-tool.js';
import {
  imageHeader,
  pixelLimit,
  renderThumbnail,
  sharpLabel,
  type ImageHeader,
  type ImageInput,
  type Rendered,
  type RenderOptions,
} from '../tools/sharp-tool.js';
import { ToolError } from '../tools/tool.js';
import { nativeHeader } from '../tools/vips-header.js';
import {
  heifThumbnailSizes,
  nativeThumbnail,
  nativeVips,
  nativeVipsLabel,
  NATIVE_HINT,
} from '../tools/vips-cli.js';
import { videoFrame } from './video-frame.js';

/**
 * Which decoder makes a still picture's thumbnail, native first (PRODUCT section 4):
 * - what the libvips inside sharp reads (JPEG, PNG, WebP, GIF, TIFF, 8-bit AVIF): sharp, in process;
 * - HEVC-coded HEIC/HEIF, 10/12-bit AVIF, JPEG XL, PSD: the system's vipsthumbnail (libheif, libjxl,
 *   ImageMagick), which also uses a HEIF's embedded thumbnail when it is large enough;
 * - HEIC without it: libheif compiled to WebAssembly;
 * - anything else ffmpeg decodes as a still (BMP, TGA, PSD...): one ffmpeg frame.
 * Each is tried in turn while the previous one said "I cannot read this kind of file"; a damaged file
 * stops at the decoder made for its kind, and the failure names what every decoder tried said.
 */

export interface Made {
  rendered: Rendered;
  /** The chain that ran, for lineage. */
  decoder: string;
}

/** A decoder that could not help: what it said, and whether that was "not my kind of file". */
export class Refusal extends Error {
  constructor(
    readonly errors: readonly ToolError[],
    readonly tooLarge?: string,
  ) {
    super(errors.map((e) => e.message).join('; '));
  }
}

/**
 * The WebAssembly decoder holds the whole picture twice (WebAssembly heap, then RGBA) plus the heap's
 * growth: 40 megapixels keep a worker under 400 MB. Beyond it, only the native path decodes.
 */
const WASM_MAX_PIXELS = 40_000_000;
/**
 * What one picture may take in memory when its layout cannot be decoded a strip at a time (a progressive
 * JPEG's coefficients, an interlaced PNG's pixels): with the worker's own 80 MB, under 400 MB.
 */
const WHOLE_DECODE_BUDGET_BYTES = 300 * 1024 * 1024;
/**
 * The native HEIF path (libheif 1.15 through vipsthumbnail) decodes a primary image whole, with no
 * shrink-on-load: measured here, a 64 MP HEIC took the vipsthumbnail child to 430 MiB, about 7 bytes a
 * pixel (the YCbCr planes, then RGB). A picture whose decode would pass the same 400 MB a worker keeps
 * to is refused as `too-large` before the child starts, unless it has an embedded thumbnail item large
 * enough, which vipsthumbnail decodes instead (a few MB), or is a grid of HEVC tiles, which ffmpeg then
 * decodes one tile at a time (heif-tiles.ts: 92 MiB for 100 MP measured).
 */
const NATIVE_HEIF_BYTES_PER_PIXEL = 7;
const NATIVE_HEIF_BUDGET_BYTES = 400 * 1024 * 1024;
/**
 * Originals up to this size are read into memory through the descriptor (the atime stays untouched);
 * larger ones go to the system's vipsthumbnail as its stdin, or else to sharp by a name (see below).
 */
const IN_MEMORY_MAX_BYTES = 48 * 1024 * 1024;

/** libvips said it cannot read this kind of file at all, as opposed to a damaged file of a kind it reads. */
export function isUnsupported(message: string): boolean {
  return (
    /unsupported image format|not a known (file|image) format|is not in a known format|compression format has not been built in|Unsupported (codec|feature|compression)|Bitstream not supported|not in a known format|no known loader|is not a HEIC image|Invalid data found when processing input|could not find codec parameters/i.test(
      message,
    ) || REFUSED_DEMUXER.test(message)
  );
}

const refused = (error: unknown) => error instanceof ToolError && error.kind === 'failed';

/** "12248×8165 = 100,004,920 pixels (100.0 MP) is more than the limit of 100,000,000 (...)". */
function tooLargeMessage(header: ImageHeader, limit: number, what: string): string {
  const pixels = header.width * header.height;
  const figure = (n: number) => n.toLocaleString('en-US');
  return `${header.width}×${header.height} = ${figure(pixels)} pixels (${(pixels / 1e6).toFixed(1)} MP) is more than the ${what} of ${figure(limit)}`;
}

/**
 * Memory a layout that cannot be shrunk on load needs at once: libjpeg keeps a progressive JPEG's DCT
 * coefficients (2 bytes each; each chroma plane a quarter of the pixels for 4:2:0, half for 4:2:2), an
 * interlaced PNG is decoded whole. Zero for layouts read a strip at a time.
 */
function wholeDecodeBytes(header: ImageHeader): number {
  if (!header.progressive) return 0;
  const pixels = header.width * header.height;
  if (header.format === 'jpeg') {
    if (header.channels < 3) return pixels * 2;
    const chroma = /^4:2:0/.test(header.chromaSubsampling ?? '')
      ? 0.25
      : /^4:2:2|^4:4:0/.test(header.chromaSubsampling ?? '')
        ? 0.5
        : 1;
    return pixels * 2 * (1 + (header.channels - 1) * chroma);
  }
  if (header.format === 'png') return pixels * header.channels * header.bytesPerSample;
  return 0;
}

async function withSharp(input: ImageInput, options: RenderOptions): Promise<Made> {
  return { rendered: await renderThumbnail(input, options), decoder: await sharpLabel(true) };
}

async function withNative(
  original: OriginalFile,
  options: RenderOptions,
  context: DecodeContext,
): Promise<Made> {
  const vips = await nativeVips();
  if (!vips) throw new ToolError('vipsthumbnail', 'missing', `vipsthumbnail: not installed (${NATIVE_HINT})`);
  const png = await nativeThumbnail({
    fd: original.fd,
    size: options.size,
    signal: context.signal,
    cwd: context.scratchDir,
  });
  // Upright already, with its ICC profile: sharp converts to sRGB, strips metadata and encodes, as for
  // every other picture.
  return {
    rendered: await renderThumbnail({ buffer: png }, options),
    decoder: `${nativeVipsLabel(vips)} → ${await sharpLabel(false)}`,
  };
}

async function withWasm(
  original: OriginalFile,
  options: RenderOptions,
  context: DecodeContext,
): Promise<Made> {
  const label = heifDecoderVersion();
  if (!label)
    throw new ToolError(
      'libheif',
      'missing',
      'libheif: the WebAssembly decoder (heic-decode) is not installed',
    );
  if (original.size > MAX_HEIF_BYTES) {
    throw new ToolError(
      'libheif',
      'failed',
      `libheif: ${original.size} bytes is too large for a HEIF picture`,
    );
  }
  const picture = await decodeHeif(await original.read(), context.signal);
  // libheif applied the HEIF's rotation and mirror: the EXIF orientation must not be applied again.
  return {
    rendered: await renderThumbnail({ raw: picture }, { ...options, orientation: 1 }),
    decoder: `${label} → ${await sharpLabel(false)}`,
  };
}

async function withFfmpeg(
  original: OriginalFile,
  options: RenderOptions,
  context: DecodeContext,
): Promise<Made> {
  const frame = await videoFrame({
    source: { fd: original.fd },
    position: 0,
    size: options.size,
    signal: context.signal,
  });
  return {
    rendered: await renderThumbnail({ buffer: frame.png }, options),
    decoder: `ffmpeg ${(await ffToolVersion('ffmpeg')) ?? '?'} still → ${await sharpLabel(false)}`,
  };
}

/**
 * A HEIF too large to decode whole within the budget passes only when it carries a thumbnail item at
 * least the requested size (phones write one; vipsthumbnail then decodes it, not the primary image).
 */
async function checkHeifDecodeFits(
  original: OriginalFile,
  header: ImageHeader,
  options: RenderOptions,
  context: DecodeContext,
): Promise<void> {
  const thumbnails = await heifThumbnailSizes(original, context.signal, context.scratchDir).catch(
    (error: unknown) => {
      if (error instanceof ToolError && error.kind === 'aborted') throw error;
      return null;
    },
  );
  // vipsthumbnail takes the thumbnail item only when it is at least the output's size on both edges, as
  // libvips rounds them: a 400×310 thumbnail of a 9000×7000 picture does not make a 400×311 output, and
  // the primary image would be decoded whole after all (measured: 435 MB of RSS for it at --size 400).
  const scale = options.size / Math.max(header.width, header.height);
  const [wanted, wantedHeight] = [Math.round(header.width * scale), Math.round(header.height * scale)];
  if (thumbnails?.some((t) => t.width >= wanted && t.height >= wantedHeight)) return;
  const mib = Math.round((header.width * header.height * NATIVE_HEIF_BYTES_PER_PIXEL) / 1048576);
  const why =
    thumbnails === null
      ? 'heif-info (libheif-examples) is not installed to tell whether it has an embedded thumbnail'
      : `it has no embedded thumbnail of at least ${options.size} px`;
  throw new Refusal(
    [],
    `${header.width}×${header.height} HEIF: ${why}, and decoding its primary image whole takes about ${mib} MiB, more than the ${NATIVE_HEIF_BUDGET_BYTES / 1048576} MiB a worker may spend on one picture`,
  );
}

/** The grid of HEVC tiles of a HEIF (not AV1, nothing this path cannot apply), or null. */
async function gridToDecode(original: OriginalFile, header: ImageHeader): Promise<HeifGrid | null> {
  if (header.compression === 'av1') return null;
  const grid = await heifGridOfFile(original).catch(() => null);
  // The grid's own size, not only the header's, is held to the pixel limit: a file whose two disagree
  // must not make this path allocate a canvas for the larger one.
  if (!grid || grid.unsupported.length > 0 || grid.width * grid.height > pixelLimit()) return null;
  return grid;
}

async function withTiles(
  original: OriginalFile,
  grid: HeifGrid,
  options: RenderOptions,
  context: DecodeContext,
): Promise<Made> {
  try {
    const picture = await decodeHeifTiles(original, grid, { ...options, ...context });
    const png = await pngWithProfile(picture);
    return {
      rendered: await renderThumbnail(png ? { buffer: png } : { raw: picture.raw }, {
        ...options,
        orientation: picture.orientation,
      }),
      decoder: `${picture.label} → ${await sharpLabel(false)}`,
    };
  } catch (error) {
    if (!(error instanceof ToolError) || error.kind === 'aborted') throw error;
    throw new Refusal([error]);
  }
}

export interface DecodeContext {
  signal: AbortSignal;
  scratchDir: string;
  /** The catalog's media type says HEIC/HEIF (by content or name). */
  heifByName: boolean;
}

type Decoder = (original: OriginalFile, options: RenderOptions, context: DecodeContext) => Promise<Made>;

/**
 * The thumbnail of a still picture, or a Refusal naming why no decoder made one. Anything else thrown
 * (an abort, a missing sharp) is the caller's to classify.
 */
export function pictureThumbnail(
  original: OriginalFile,
  options: RenderOptions,
  context: DecodeContext,
): Promise<Made> {
  // The content stays lent until every decoder is done with it (all of them are awaited below).
  if (original.size <= IN_MEMORY_MAX_BYTES)
    return original.withContent((buffer) => decodeFrom(original, { buffer }, options, context));
  return decodeFrom(original, { file: original.descriptorPath }, options, context);
}

async function decodeFrom(
  original: OriginalFile,
  input: ImageInput,
  options: RenderOptions,
  context: DecodeContext,
): Promise<Made> {
  const limit = pixelLimit();
  let header: ImageHeader | null = null;
  let headerError: ToolError | null = null;
  // Too large to read into memory, an original would reach sharp only as a name of its descriptor,
  // which libvips opens anew without O_NOATIME: where the system's libvips is there, it reads the
  // descriptor itself (header and picture) and sharp is only the fallback.
  const native = original.size > IN_MEMORY_MAX_BYTES && (await nativeVips()) !== null;
  try {
    if (native) {
      header = await nativeHeader({ fd: original.fd, signal: context.signal, cwd: context.scratchDir });
    }
    header ??= await imageHeader(input);
  } catch (error) {
    if (!refused(error)) throw error;
    headerError = error as ToolError;
  }
  if (header && header.width * header.height > limit) {
    throw new Refusal([], tooLargeMessage(header, limit, 'pixel limit (tools.maxPixels in config.json)'));
  }
  const whole = header ? wholeDecodeBytes(header) : 0;
  if (header && whole > WHOLE_DECODE_BUDGET_BYTES) {
    const mb = (bytes: number) => `${Math.round(bytes / 1048576)} MiB`;
    throw new Refusal(
      [],
      `${header.width}×${header.height}: a ${header.format === 'png' ? 'interlaced PNG' : 'progressive JPEG'} is decoded whole, ${mb(whole)}, more than the ${mb(WHOLE_DECODE_BUDGET_BYTES)} a worker may spend on one picture`,
    );
  }

  const viaSharp: Decoder = (_original, opts) => withSharp(input, opts);
  const wasm: Decoder = async (o, opts, ctx) => {
    if (header && header.width * header.height > WASM_MAX_PIXELS) {
      throw new Refusal(
        [],
        `${tooLargeMessage(header, WASM_MAX_PIXELS, 'limit of the WebAssembly HEIC decoder')}. ${NATIVE_HINT}`,
      );
    }
    return withWasm(o, opts, ctx);
  };
  if (
    header?.format === 'heif' &&
    header.width * header.height * NATIVE_HEIF_BYTES_PER_PIXEL > NATIVE_HEIF_BUDGET_BYTES
  ) {
    try {
      await checkHeifDecodeFits(original, header, options, context);
    } catch (error) {
      // Too large to decode whole and no thumbnail item to use: a grid can still be decoded tile by tile.
      if (!(error instanceof Refusal)) throw error;
      const grid = await gridToDecode(original, header);
      if (grid) return withTiles(original, grid, options, context);
      // HEVC and AV1 levels stop at 35.6 MP a coded picture, so what phones and cameras write above it is
      // a grid; a larger single image (or a grid this path cannot take) can only be decoded whole.
      throw new Refusal(
        error.errors,
        `${error.tooLarge}; it is not a grid of HEVC tiles that could be decoded one at a time`,
      );
    }
  }
  let chain: Decoder[];
  if (header?.format === 'heif' && header.compression !== 'av1') chain = [withNative, wasm];
  else if (header?.format === 'heif') chain = [viaSharp, withNative];
  else if (header && native) chain = [withNative, viaSharp, withFfmpeg];
  else if (header) chain = [viaSharp, withNative, withFfmpeg];
  else if (context.heifByName) chain = [withNative, wasm];
  else chain = [withNative, withFfmpeg];

  const errors: ToolError[] = headerError ? [headerError] : [];
  for (const [index, decoder] of chain.entries()) {
    try {
      return await decoder(original, options, context);
    } catch (error) {
      if (error instanceof Refusal) throw new Refusal([...errors, ...error.errors], error.tooLarge);
      if (!(error instanceof ToolError) || error.kind === 'aborted') throw error;
      errors.push(error);
      // A missing optional decoder passes to the next; a damaged file of a kind the first decoder
      // reads is not another decoder's business (it would only hide the real error).
      if (error.kind === 'failed' && index === 0 && header && !isUnsupported(error.message)) break;
    }
  }
  throw new Refusal(errors);
}
