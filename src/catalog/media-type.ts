import path from 'node:path';
import type * as FileType from 'file-type';
import type { MediaType } from '../store/schema.js';

let fileType: Promise<typeof FileType> | null = null;

/** Extensions and their MIME types, used when the content alone does not say enough. */
const IMAGE_EXTENSIONS: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  jpe: 'image/jpeg',
  jfif: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  avif: 'image/avif',
  heic: 'image/heic',
  heif: 'image/heif',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  bmp: 'image/bmp',
  jxl: 'image/jxl',
  psd: 'image/vnd.adobe.photoshop',
  // Camera RAW: most are TIFF containers, so the extension names the maker's flavour.
  dng: 'image/x-adobe-dng',
  cr2: 'image/x-canon-cr2',
  cr3: 'image/x-canon-cr3',
  crw: 'image/x-canon-crw',
  nef: 'image/x-nikon-nef',
  nrw: 'image/x-nikon-nrw',
  arw: 'image/x-sony-arw',
  srf: 'image/x-sony-srf',
  sr2: 'image/x-sony-sr2',
  raf: 'image/x-fujifilm-raf',
  rw2: 'image/x-panasonic-rw2',
  orf: 'image/x-olympus-orf',
  pef: 'image/x-pentax-pef',
  srw: 'image/x-samsung-srw',
  x3f: 'image/x-sigma-x3f',
  mrw: 'image/x-minolta-mrw',
  rwl: 'image/x-leica-rwl',
  '3fr': 'image/x-hasselblad-3fr',
  iiq: 'image/x-phaseone-iiq',
  erf: 'image/x-epson-erf',
  kdc: 'image/x-kodak-kdc',
  dcr: 'image/x-kodak-dcr',
};

const VIDEO_EXTENSIONS: Record<string, string> = {
  mp4: 'video/mp4',
  m4v: 'video/x-m4v',
  mov: 'video/quicktime',
  qt: 'video/quicktime',
  avi: 'video/x-msvideo',
  mkv: 'video/x-matroska',
  webm: 'video/webm',
  mts: 'video/mp2t',
  m2ts: 'video/mp2t',
  ts: 'video/mp2t',
  '3gp': 'video/3gpp',
  '3g2': 'video/3gpp2',
  mpg: 'video/mpeg',
  mpeg: 'video/mpeg',
  vob: 'video/mpeg',
  mod: 'video/mpeg',
  tod: 'video/mp2t',
  wmv: 'video/x-ms-wmv',
  asf: 'video/x-ms-asf',
  dv: 'video/x-dv',
  dif: 'video/x-dv',
  flv: 'video/x-flv',
  mxf: 'application/mxf',
};

const SIDECAR_EXTENSIONS: Record<string, string> = {
  xmp: 'application/rdf+xml',
  aae: 'application/xml',
};

const RAW_EXTENSIONS = new Set(
  Object.keys(IMAGE_EXTENSIONS).filter((ext) => IMAGE_EXTENSIONS[ext]!.includes('/x-')),
);

function isTiffMagic(head: Buffer): boolean {
  const magic = head.subarray(0, 4).toString('latin1');
  return magic === 'II*\0' || magic === 'MM\0*';
}

/**
 * Formats the content sniffer does not know, by their own magic bytes: Minolta RAW (`\0MRM`) and DV
 * (a DIF header block: section type 0, sequence 0, `0x1f 0x07 0x00`). Typed `other` they were never tried.
 */
function sniffMore(head: Buffer): MediaKind | undefined {
  if (head.subarray(0, 4).toString('latin1') === '\0MRM')
    return { mediaType: 'image', mime: 'image/x-minolta-mrw' };
  if (head.length >= 3 && head[0] === 0x1f && head[1] === 0x07 && head[2] === 0x00)
    return { mediaType: 'video', mime: 'video/x-dv' };
  return undefined;
}

export interface MediaKind {
  mediaType: MediaType;
  mime: string | null;
}

/**
 * Media type from the content first (magic bytes), then from the extension. A truncated JPEG with a
 * garbled header still counts as an image by its name, so it reaches the pipeline and fails there with a
 * reason a person can read, instead of vanishing as "other".
 */
export async function detectMediaKind(head: Buffer, fileName: string): Promise<MediaKind> {
  const ext = path.extname(fileName).slice(1).toLowerCase();
  if (ext in SIDECAR_EXTENSIONS) return { mediaType: 'sidecar', mime: SIDECAR_EXTENSIONS[ext]! };

  // Imported on first use (about 50 ms to load): only a catalog pass sniffs content.
  fileType ??= import('file-type');
  const sniffed = await (await fileType).fileTypeFromBuffer(head).catch(() => undefined);
  const byExtension: MediaKind | undefined =
    ext in IMAGE_EXTENSIONS
      ? { mediaType: 'image', mime: IMAGE_EXTENSIONS[ext]! }
      : ext in VIDEO_EXTENSIONS
        ? { mediaType: 'video', mime: VIDEO_EXTENSIONS[ext]! }
        : undefined;

  if (!sniffed) {
    const more = sniffMore(head);
    if (more) return more;
    if (isTiffMagic(head)) {
      return RAW_EXTENSIONS.has(ext) ? byExtension! : { mediaType: 'image', mime: 'image/tiff' };
    }
    return byExtension ?? { mediaType: 'other', mime: null };
  }
  if (sniffed.mime.startsWith('image/')) {
    // A RAW file sniffs as TIFF; its extension says which camera format it is.
    return sniffed.mime === 'image/tiff' && RAW_EXTENSIONS.has(ext)
      ? byExtension!
      : { mediaType: 'image', mime: sniffed.mime };
  }
  if (sniffed.mime.startsWith('video/')) return { mediaType: 'video', mime: sniffed.mime };
  // An MP4, MXF or ASF whose brand or first stream reads as audio or "application" is still a video when
  // it is named like one (a WMV whose audio stream comes first sniffs as audio/x-ms-asf).
  if (
    byExtension?.mediaType === 'video' &&
    (sniffed.mime.startsWith('audio/') || /^application\/(mxf|vnd\.ms-asf|x-ms-asf)$/.test(sniffed.mime))
  ) {
    return byExtension;
  }
  // Photoshop files sniff as application/x-photoshop (file-type's name); they are pictures.
  if (/^(application\/x-photoshop|image\/vnd\.adobe\.photoshop)$/.test(sniffed.mime)) {
    return { mediaType: 'image', mime: 'image/vnd.adobe.photoshop' };
  }
  return { mediaType: 'other', mime: sniffed.mime };
}

/** Every extension (lower case) named here as a picture or a video: what a sidecar's name may complete. */
export const MEDIA_EXTENSIONS: readonly string[] = [
  ...Object.keys(IMAGE_EXTENSIONS),
  ...Object.keys(VIDEO_EXTENSIONS),
];

/** A camera RAW format, by extension (`cr2`, `NEF`). */
export function isRawExtension(ext: string): boolean {
  return RAW_EXTENSIONS.has(ext.toLowerCase());
}
