import path from 'node:path';
import { extractBinaryTag, readTags, type ExifSource } from '../tools/exiftool-tool.js';
import type { ImageInput } from '../tools/sharp-tool.js';
import { ToolError } from '../tools/tool.js';

/**
 * Camera RAW files are thumbnailed from the JPEG the camera embedded in them: demosaicing sensor data
 * is slow, needs a RAW decoder per maker, and would not look like what the photographer saw anyway.
 */

const RAW_EXTENSIONS = new Set([
  'cr2',
  'cr3',
  'crw',
  'nef',
  'nrw',
  'arw',
  'srf',
  'sr2',
  'dng',
  'raf',
  'rw2',
  'rwl',
  'orf',
  'pef',
  'srw',
  'x3f',
  '3fr',
  'iiq',
  'erf',
  'mef',
  'mos',
  'mrw',
  'kdc',
  'dcr',
]);

/** Tags that hold an embedded JPEG, as exiftool names them in the different makers' layouts. */
const PREVIEW_TAGS = ['JpgFromRaw', 'PreviewImage', 'OtherImage', 'ThumbnailImage'];

export function isRawFile(file: string, mime: string | null): boolean {
  const extension = path.extname(file).slice(1).toLowerCase();
  // The catalog names RAW formats image/x-<maker>-<format>; the extension covers the rest.
  return (
    RAW_EXTENSIONS.has(extension) ||
    (mime !== null &&
      /^image\/x-(adobe|canon|nikon|sony|fujifilm|panasonic|olympus|pentax|samsung|sigma|minolta|leica|hasselblad|phaseone|epson|kodak)-/.test(
        mime,
      ))
  );
}

/** `(Binary data 123456 bytes, use -b option to extract)` → 123456. */
function binarySize(value: unknown): number {
  const match = typeof value === 'string' ? /^\(Binary data (\d+) bytes/.exec(value) : null;
  return match ? Number(match[1]) : 0;
}

const isJpeg = (bytes: Buffer) =>
  bytes.length > 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;

export interface RawPreview {
  input: ImageInput;
  /** The RAW's own EXIF orientation (1-8): the preview is stored as the sensor saw it. */
  orientation: number;
  tag: string;
}

/**
 * The largest embedded JPEG of a RAW file and the RAW's orientation. Rejects with a `failed` ToolError
 * (an unsupported format, for the caller) when the file embeds none.
 */
export async function rawPreview(file: ExifSource, signal: AbortSignal): Promise<RawPreview> {
  const tags = await readTags(file, signal, ['Orientation', ...PREVIEW_TAGS]);
  const sizes = new Map<string, number>();
  let orientation = 1;
  for (const [key, value] of Object.entries(tags)) {
    const name = key.slice(key.lastIndexOf(':') + 1);
    if (PREVIEW_TAGS.includes(name)) sizes.set(name, Math.max(sizes.get(name) ?? 0, binarySize(value)));
    // IFD0's orientation is the RAW's; a maker note's copy is only used when IFD0 has none.
    if (
      name === 'Orientation' &&
      Number.isInteger(value) &&
      (key === 'EXIF:Orientation' || orientation === 1)
    ) {
      orientation = Number(value) >= 1 && Number(value) <= 8 ? Number(value) : 1;
    }
  }
  const candidates = [...sizes].filter(([, size]) => size > 0).sort((a, b) => b[1] - a[1]);
  for (const [tag] of candidates) {
    let bytes: Buffer;
    try {
      bytes = await extractBinaryTag(tag, file, signal);
    } catch (error) {
      if (error instanceof ToolError && error.kind !== 'failed') throw error;
      continue;
    }
    // A "preview" can be raw sensor strips that exiftool mistook for one: only a JPEG will do.
    if (isJpeg(bytes)) return { input: { buffer: bytes }, orientation, tag };
  }
  throw new ToolError(
    'exiftool',
    'failed',
    'no embedded JPEG preview (JpgFromRaw, PreviewImage) in this RAW file; RAW sensor data is not decoded',
  );
}
