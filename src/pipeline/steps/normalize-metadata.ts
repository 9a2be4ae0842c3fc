import type { MediaType } from '../../store/schema.js';
import type { RawTags } from '../tools/exiftool-tool.js';
import type { FfprobeResult } from '../tools/ffprobe.js';
import { captureTime, type CaptureTime } from './capture-time.js';
import { integer, pick, positive, text } from './tag-values.js';
import { videoFacts } from './video-facts.js';

/** The `metadata` step's artifact (PRODUCT section 5): null wherever the file does not say. */
export interface NormalizedMetadata extends CaptureTime {
  /** As displayed: swapped for EXIF orientations 5-8 and for videos turned by 90 or 270 degrees. */
  width: number | null;
  height: number | null;
  orientation: number | null;
  make: string | null;
  model: string | null;
  lens: string | null;
  /** Seconds (0.004 for 1/250 s). */
  exposureTime: number | null;
  fNumber: number | null;
  /** Millimetres, as the lens states it (not 35 mm equivalent). */
  focalLength: number | null;
  iso: number | null;
  /** Signed decimal degrees (south and west negative); metres above sea level. */
  gps: { latitude: number; longitude: number; altitude: number | null } | null;
  rating: number | null;
  keywords: string[];
  mimeType: string | null;
  durationSec?: number | null;
  container?: string | null;
  video?: {
    codec: string | null;
    /** As stored in the stream, before rotation. */
    width: number | null;
    height: number | null;
    fps: number | null;
    bitRate: number | null;
    /** Clockwise degrees applied for display: 0, 90, 180, 270. */
    rotation: number;
  } | null;
  audio?: { codec: string | null; channels: number | null; sampleRate: number | null } | null;
  raw: { exiftool: RawTags; ffprobe?: FfprobeResult | null; ffprobeError?: string };
}

/** Tags that describe where the file lies, not what it is: left out of `raw` (the same content, any place). */
const NOT_CONTENT = new Set([
  'SourceFile',
  'File:FileName',
  'File:Directory',
  'File:FileAccessDate',
  'File:FileInodeChangeDate',
  'File:FilePermissions',
]);

function gpsOf(tags: RawTags): NormalizedMetadata['gps'] {
  // Composite and XMP positions are signed; the EXIF ones need their N/S, E/W reference.
  let latitude = Number(pick(tags, ['Composite:GPSLatitude', 'XMP:GPSLatitude']));
  let longitude = Number(pick(tags, ['Composite:GPSLongitude', 'XMP:GPSLongitude']));
  if (!Number.isFinite(latitude) || !Number.isFinite(longitude)) {
    latitude = Number(tags['EXIF:GPSLatitude']) * (tags['EXIF:GPSLatitudeRef'] === 'S' ? -1 : 1);
    longitude = Number(tags['EXIF:GPSLongitude']) * (tags['EXIF:GPSLongitudeRef'] === 'W' ? -1 : 1);
  }
  if (!Number.isFinite(latitude) || !Number.isFinite(longitude)) return null;
  if (Math.abs(latitude) > 90 || Math.abs(longitude) > 180) return null;
  // 0,0 is what an unset GPS block holds, not a photo taken in the Gulf of Guinea.
  if (latitude === 0 && longitude === 0) return null;
  const altitude = Number(pick(tags, ['Composite:GPSAltitude', 'XMP:GPSAltitude', 'EXIF:GPSAltitude']));
  return { latitude, longitude, altitude: Number.isFinite(altitude) ? altitude : null };
}

function keywordsOf(tags: RawTags): string[] {
  const all: string[] = [];
  for (const key of ['IPTC:Keywords', 'XMP:Subject', 'QuickTime:Keywords']) {
    const value = tags[key];
    for (const item of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
      const keyword = text(item);
      if (keyword && !all.includes(keyword)) all.push(keyword);
    }
  }
  return all;
}

/** Stored picture size: exiftool's composite first (it knows each format's main image). */
function storedSize(tags: RawTags): { width: number; height: number } | null {
  const composite =
    typeof tags['Composite:ImageSize'] === 'string' ? tags['Composite:ImageSize'].split(/[\sx]+/) : [];
  const candidates: [unknown, unknown][] = [
    [composite[0], composite[1]],
    [tags['File:ImageWidth'], tags['File:ImageHeight']],
    [tags['PNG:ImageWidth'], tags['PNG:ImageHeight']],
    [tags['EXIF:ImageWidth'], tags['EXIF:ImageHeight']],
    [tags['EXIF:ExifImageWidth'], tags['EXIF:ExifImageHeight']],
    [tags['QuickTime:ImageWidth'], tags['QuickTime:ImageHeight']],
  ];
  for (const [w, h] of candidates) {
    const width = integer(w);
    const height = integer(h);
    if (width && height) return { width, height };
  }
  return null;
}

export interface MetadataInput {
  tags: RawTags;
  mediaType: MediaType;
  mime: string | null;
  /** ffprobe's answer for a video; null when it failed or was not asked (images). */
  probe: FfprobeResult | null;
  probeError?: string;
}

export function normalizeMetadata(input: MetadataInput): NormalizedMetadata {
  const { tags, probe } = input;
  const isVideo = input.mediaType === 'video';
  const gps = gpsOf(tags);
  const orientationTag = integer(pick(tags, ['EXIF:Orientation', 'XMP:Orientation']));
  const orientation = orientationTag && orientationTag <= 8 ? orientationTag : null;
  const video = isVideo ? videoFacts(tags, probe) : null;

  let size =
    video?.video?.width && video.video.height
      ? { width: video.video.width, height: video.video.height }
      : storedSize(tags);
  if (size) {
    // HEIF states its rotation in `irot` (QuickTime:Rotation, quarter turns); other images in EXIF.
    const heifTurns = !isVideo ? Number(tags['QuickTime:Rotation']) : NaN;
    const swap = isVideo
      ? video?.video?.rotation === 90 || video?.video?.rotation === 270
      : Number.isFinite(heifTurns)
        ? heifTurns % 2 === 1
        : orientation !== null && orientation >= 5;
    if (swap) size = { width: size.height, height: size.width };
  }

  // Sorted: exiftool lists some tags (the Composite ones) in Perl's hash order, which changes from one
  // process to the next; the same file must give the same bytes, or a recomputation looks like a change.
  const exiftool = Object.fromEntries(
    Object.entries(tags)
      .filter(([key]) => !NOT_CONTENT.has(key))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
  return {
    ...captureTime(tags, gps),
    width: size?.width ?? null,
    height: size?.height ?? null,
    orientation,
    make: text(
      pick(tags, ['EXIF:Make', 'QuickTime:Make', 'XMP:Make', 'QuickTime:AndroidMake', 'MakerNotes:Make']),
    ),
    model: text(
      pick(tags, [
        'EXIF:Model',
        'QuickTime:Model',
        'XMP:Model',
        'QuickTime:AndroidModel',
        'MakerNotes:Model',
      ]),
    ),
    lens: lensOf(tags),
    exposureTime: positive(pick(tags, ['EXIF:ExposureTime', 'XMP:ExposureTime', 'Composite:ShutterSpeed'])),
    fNumber: positive(pick(tags, ['EXIF:FNumber', 'XMP:FNumber', 'Composite:Aperture'])),
    focalLength: positive(pick(tags, ['EXIF:FocalLength', 'XMP:FocalLength'])),
    iso: integer(pick(tags, ['EXIF:ISO', 'Composite:ISO', 'XMP:ISO', 'MakerNotes:ISO'])),
    gps,
    rating: ratingOf(tags),
    keywords: keywordsOf(tags),
    mimeType: text(tags['File:MIMEType']) ?? input.mime,
    ...(video ?? {}),
    raw: isVideo
      ? { exiftool, ffprobe: probe, ...(input.probeError ? { ffprobeError: input.probeError } : {}) }
      : { exiftool },
  };
}

function lensOf(tags: RawTags): string | null {
  for (const key of [
    'EXIF:LensModel',
    'XMP:LensModel',
    'XMP:Lens',
    'MakerNotes:LensModel',
    'MakerNotes:Lens',
    'Composite:LensID',
  ]) {
    const value = tags[key];
    // With -n some lens tags are numeric IDs (Canon's LensType); only a name is worth showing.
    if (typeof value === 'string' && !/^[\d\s.-]+$/.test(value)) return text(value);
  }
  return null;
}

function ratingOf(tags: RawTags): number | null {
  const value = Number(pick(tags, ['XMP:Rating', 'EXIF:Rating']));
  return Number.isInteger(value) && value >= -1 && value <= 5 ? value : null;
}
