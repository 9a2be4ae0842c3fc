import type { RawTags } from '../tools/exiftool-tool.js';
import { captureTimeV2, type CaptureTimeV2 } from './capture-time-v2.js';
import { normalizeMetadata, type MetadataInput, type NormalizedMetadata } from './normalize-metadata.js';
import type { SidecarContent, TakeoutJson } from './read-sidecars.js';
import { integer, pick, text } from './tag-values.js';

/**
 * The `metadata` artifact of `core@2` (PRODUCT section 4b): `core@1`'s fields, the capture time read by
 * capture-time-v2.ts, and what the sidecars say.
 *
 * Precedence (docs/metadata.md): an XMP sidecar is an explicit edit (Lightroom, darktable, digiKam), so
 * its capture time, GPS position, rating, keywords and description win over the file's own tags. Camera
 * facts (make, model, lens) are the file's; a sidecar only fills them in when the file has none. A Google
 * Takeout JSON fills in what the file lacks (its date, position and description: often all that is left
 * once a service stripped the EXIF), and never overrides the file or an XMP sidecar.
 * `fromSidecar` names every field whose value the sidecars changed (or supplied).
 */

export type NormalizedMetadataV2 = Omit<NormalizedMetadata, keyof CaptureTimeV2 | 'raw'> &
  CaptureTimeV2 & {
    description: string | null;
    /** Apple's Live Photo pairing key (a still and its video share it); null elsewhere. */
    contentIdentifier: string | null;
    /** The file says it is a motion photo (a JPEG with a video inside; the `motion-video` step extracts it). */
    motionPhoto: boolean;
    sidecars: SidecarContent['read'];
    fromSidecar: string[];
    raw: NormalizedMetadata['raw'] & {
      sidecars?: { path: string; kind: string; content: unknown }[];
      ignoredSidecars?: SidecarContent['ignored'];
    };
  };

/** Fields a sidecar may decide, in the order `fromSidecar` lists them. */
const SIDECAR_FIELDS = [
  'takenAt',
  'takenAtLocal',
  'takenAtSource',
  'timeZone',
  'timeZoneSource',
  'gps',
  'rating',
  'keywords',
  'description',
  'make',
  'model',
  'lens',
] as const;

type Gps = NormalizedMetadata['gps'];

function position(latitude: unknown, longitude: unknown, altitude: unknown): Gps {
  const lat = Number(latitude);
  const lon = Number(longitude);
  if (!Number.isFinite(lat) || !Number.isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180)
    return null;
  // Takeout writes 0,0 when it knows no place.
  if (lat === 0 && lon === 0) return null;
  const alt = Number(altitude);
  return { latitude: lat, longitude: lon, altitude: Number.isFinite(alt) && alt !== 0 ? alt : null };
}

function xmpGps(tags: RawTags): Gps {
  return position(tags['XMP:GPSLatitude'], tags['XMP:GPSLongitude'], tags['XMP:GPSAltitude']);
}

function takeoutGps(json: TakeoutJson): Gps {
  for (const geo of [json.geoData, json.geoDataExif]) {
    const found = geo ? position(geo.latitude, geo.longitude, geo.altitude) : null;
    if (found) return found;
  }
  return null;
}

function list(value: unknown): string[] {
  const items = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
  return [...new Set(items.map(text).filter((k): k is string => k !== null))];
}

const XMP_DATE_TAGS = ['DateTimeOriginal', 'DateCreated', 'CreateDate'] as const;

function xmpDate(tags: RawTags): { tag: string; value: string } | null {
  for (const tag of XMP_DATE_TAGS) {
    const value = tags[`XMP:${tag}`];
    if (typeof value === 'string' && value.trim() !== '') return { tag, value };
  }
  return null;
}

function contentIdentifierOf(tags: RawTags): string | null {
  return text(
    pick(tags, ['MakerNotes:ContentIdentifier', 'QuickTime:ContentIdentifier', 'Apple:ContentIdentifier']),
  );
}

function isMotionPhoto(tags: RawTags): boolean {
  if (Number(tags['XMP:MotionPhoto']) === 1 || Number(tags['XMP:MicroVideo']) === 1) return true;
  const semantics = list(tags['XMP:DirectoryItemSemantic']);
  return semantics.includes('MotionPhoto') || tags['Samsung:EmbeddedVideoType'] !== undefined;
}

function decide(
  base: NormalizedMetadata,
  tags: RawTags,
  sidecars: Pick<SidecarContent, 'xmp' | 'takeout'>,
): Pick<NormalizedMetadataV2, (typeof SIDECAR_FIELDS)[number]> {
  const xmp = sidecars.xmp?.tags ?? {};
  const takeout = sidecars.takeout?.json;
  const gps = xmpGps(xmp) ?? base.gps ?? (takeout ? takeoutGps(takeout) : null);
  const stamp = Number(takeout?.photoTakenTime?.timestamp);
  const time = captureTimeV2(tags, gps, {
    xmp: xmpDate(xmp),
    takeoutTimestamp: Number.isFinite(stamp) ? stamp : null,
  });
  const rating = integer(xmp['XMP:Rating']);
  const keywords = list(xmp['XMP:Subject']);
  const fileDescription = text(
    pick(tags, [
      'EXIF:ImageDescription',
      'XMP:Description',
      'IPTC:Caption-Abstract',
      'QuickTime:Description',
    ]),
  );
  return {
    ...time,
    gps,
    rating: xmp['XMP:Rating'] !== undefined && rating !== null && rating <= 5 ? rating : base.rating,
    keywords: keywords.length > 0 ? keywords : base.keywords,
    description: text(xmp['XMP:Description']) ?? fileDescription ?? text(takeout?.description),
    make: base.make ?? text(xmp['XMP:Make']),
    model: base.model ?? text(xmp['XMP:Model']),
    lens: base.lens ?? text(pick(xmp, ['XMP:LensModel', 'XMP:Lens'])),
  };
}

export function normalizeMetadataV2(input: MetadataInput, sidecars: SidecarContent): NormalizedMetadataV2 {
  const base = normalizeMetadata(input);
  const fileOnly = decide(base, input.tags, { xmp: null, takeout: null });
  const decided = decide(base, input.tags, sidecars);
  const fromSidecar = SIDECAR_FIELDS.filter(
    (field) => JSON.stringify(decided[field]) !== JSON.stringify(fileOnly[field]),
  );
  // The file's own reading of the decided fields is replaced by the decision, in the same places.
  const facts: Partial<NormalizedMetadata> = { ...base };
  for (const field of [...SIDECAR_FIELDS, 'raw'] as const) delete facts[field as keyof NormalizedMetadata];
  const { raw } = base;
  const rawSidecars = [
    ...(sidecars.xmp ? [{ path: sidecars.xmp.path, kind: 'xmp', content: sidecars.xmp.tags }] : []),
    ...(sidecars.takeout
      ? [{ path: sidecars.takeout.path, kind: 'takeout-json', content: sidecars.takeout.json }]
      : []),
  ];
  return {
    ...decided,
    ...(facts as Omit<NormalizedMetadata, (typeof SIDECAR_FIELDS)[number] | 'raw'>),
    contentIdentifier: contentIdentifierOf(input.tags),
    motionPhoto: isMotionPhoto(input.tags),
    sidecars: sidecars.read,
    fromSidecar,
    raw: {
      ...raw,
      ...(rawSidecars.length > 0 ? { sidecars: rawSidecars } : {}),
      ...(sidecars.ignored.length > 0 ? { ignoredSidecars: sidecars.ignored } : {}),
    },
  };
}
