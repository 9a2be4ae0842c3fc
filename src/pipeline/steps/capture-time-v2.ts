import { DateTime, FixedOffsetZone, type Zone } from 'luxon';
import type { RawTags } from '../tools/exiftool-tool.js';
import {
  CAPTURE_TAGS,
  formatOffset,
  parseExifDate,
  QUICKTIME_UTC_TAGS,
  statedOffset,
  valuesOf,
  zoneAt,
  zoneForOffset,
} from './capture-time.js';

/**
 * Capture time as `core@2` records it (PRODUCT section 4b). A camera's clock has no zone: its reading is
 * kept as `takenAtLocal`, and `takenAt` (an instant with its offset) exists only when the zone is known.
 * `Z` is printed only for a true UTC instant whose zone is unknown (a QuickTime stamp, Takeout's
 * `photoTakenTime`, a file time), never for a wall clock of an unknown zone. `timeZoneSource` says how the
 * zone was found. `core@1` keeps its own reading (capture-time.ts), unchanged.
 */

export type TimeZoneSource = 'offset-tag' | 'gps' | 'sidecar' | 'utc-by-format';

export interface CaptureTimeV2 {
  /** ISO 8601 with offset; null when the zone is unknown and the time is a wall clock. */
  takenAt: string | null;
  /**
   * The wall clock where the picture was taken, ISO 8601 without offset. For a UTC instant whose zone is
   * unknown, the UTC reading (the best sort key there is; `takenAt` ends in `Z` and `timeZone` is null).
   */
  takenAtLocal: string | null;
  /** The tag that won (`DateTimeOriginal`, `xmp:DateTimeOriginal`, `takeout:photoTakenTime`) or `mtime`. */
  takenAtSource: string | null;
  /** An IANA zone (`Europe/Berlin`) or an offset (`+01:00`); null when unknown. */
  timeZone: string | null;
  timeZoneSource: TimeZoneSource | null;
}

/** What sidecars say about the time: an XMP date (an explicit edit wins) and Takeout's UTC instant. */
export interface SidecarTimes {
  xmp?: { tag: string; value: string } | null;
  /** Seconds since the epoch (Takeout's `photoTakenTime.timestamp`). */
  takeoutTimestamp?: number | null;
}

type Gps = { latitude: number; longitude: number } | null;

const NO_TIME: CaptureTimeV2 = {
  takenAt: null,
  takenAtLocal: null,
  takenAtSource: null,
  timeZone: null,
  timeZoneSource: null,
};

function localOf(moment: DateTime): string {
  return moment.toISO({ includeOffset: false, suppressMilliseconds: true })!;
}

/** An instant in a known zone: both fields, the offset printed even when it is +00:00. */
function inZone(
  moment: DateTime,
  zone: Zone,
  label: string,
  source: string,
  zoneSource: TimeZoneSource,
): CaptureTimeV2 {
  const shown = moment.setZone(zone);
  const local = localOf(shown);
  return {
    takenAt: `${local}${formatOffset(shown.offset)}`,
    takenAtLocal: local,
    takenAtSource: source,
    timeZone: label,
    timeZoneSource: zoneSource,
  };
}

/** A UTC instant: shown in the place's zone when there is one, else as `Z` (true UTC, zone unknown). */
function utcInstant(moment: DateTime, placeZone: string | null, source: string): CaptureTimeV2 {
  if (placeZone) return inZone(moment, moment.setZone(placeZone).zone, placeZone, source, 'utc-by-format');
  const local = localOf(moment.setZone('utc'));
  return {
    takenAt: `${local}Z`,
    takenAtLocal: local,
    takenAtSource: source,
    timeZone: null,
    timeZoneSource: 'utc-by-format',
  };
}

/**
 * One date value read with the rules of its kind: its own offset, else the offset tags, else UTC by
 * format, else a wall clock placed by GPS, else a wall clock alone.
 */
function readValue(
  value: unknown,
  options: {
    source: string;
    utcByFormat: boolean;
    offsetTag: number | null;
    placeZone: string | null;
    ownOffsetSource: TimeZoneSource;
  },
): CaptureTimeV2 | null {
  const parsed = parseExifDate(value);
  if (!parsed) return null;
  const { source, placeZone } = options;
  if (parsed.offset !== null) {
    const moment = DateTime.fromObject(parsed.parts, { zone: FixedOffsetZone.instance(parsed.offset) });
    const { zone, label } = zoneForOffset(moment, parsed.offset, placeZone);
    return inZone(moment, zone, label, source, options.ownOffsetSource);
  }
  if (parsed.utc || options.utcByFormat) {
    const moment = DateTime.fromObject(parsed.parts, { zone: 'utc' });
    if (options.offsetTag !== null) {
      const { zone, label } = zoneForOffset(moment, options.offsetTag, placeZone);
      return inZone(moment, zone, label, source, 'offset-tag');
    }
    return utcInstant(moment, placeZone, source);
  }
  if (options.offsetTag !== null) {
    const moment = DateTime.fromObject(parsed.parts, { zone: FixedOffsetZone.instance(options.offsetTag) });
    const { zone, label } = zoneForOffset(moment, options.offsetTag, placeZone);
    return inZone(moment, zone, label, source, 'offset-tag');
  }
  if (placeZone) {
    const moment = DateTime.fromObject(parsed.parts, { zone: placeZone });
    if (moment.isValid) return inZone(moment, moment.zone, placeZone, source, 'gps');
  }
  // A camera's wall clock of an unknown zone: kept as it is, never passed off as UTC.
  return {
    takenAt: null,
    takenAtLocal: localOf(DateTime.fromObject(parsed.parts, { zone: 'utc' })),
    takenAtSource: source,
    timeZone: null,
    timeZoneSource: null,
  };
}

/**
 * Precedence: an XMP sidecar's date (an explicit edit, as Lightroom users expect), then the file's tags in
 * the order of CAPTURE_TAGS, then Takeout's `photoTakenTime` (often the only date left once a service
 * stripped the file's EXIF), then the file's modification time.
 */
export function captureTimeV2(tags: RawTags, gps: Gps, sidecar: SidecarTimes = {}): CaptureTimeV2 {
  const placeZone = zoneAt(gps);
  if (sidecar.xmp) {
    const found = readValue(sidecar.xmp.value, {
      source: `xmp:${sidecar.xmp.tag}`,
      utcByFormat: false,
      offsetTag: null,
      placeZone,
      ownOffsetSource: 'sidecar',
    });
    if (found) return found;
  }
  for (const name of CAPTURE_TAGS) {
    for (const { group, value } of valuesOf(tags, name)) {
      const found = readValue(value, {
        source: name,
        utcByFormat: group === 'QuickTime' && QUICKTIME_UTC_TAGS.has(name),
        offsetTag: parseExifDate(value) ? statedOffset(tags, name) : null,
        placeZone,
        ownOffsetSource: 'offset-tag',
      });
      if (found) return found;
    }
  }
  const stamp = sidecar.takeoutTimestamp;
  if (typeof stamp === 'number' && Number.isFinite(stamp) && stamp > 0) {
    return utcInstant(DateTime.fromSeconds(stamp, { zone: 'utc' }), placeZone, 'takeout:photoTakenTime');
  }
  // Last resort: the file's modification time, an exact instant.
  const mtime = parseExifDate(tags['File:FileModifyDate']);
  if (mtime && (mtime.offset !== null || mtime.utc)) {
    const moment = DateTime.fromObject(mtime.parts, { zone: FixedOffsetZone.instance(mtime.offset ?? 0) });
    if (placeZone) return inZone(moment, moment.setZone(placeZone).zone, placeZone, 'mtime', 'gps');
    const local = localOf(moment.setZone('utc'));
    return {
      takenAt: `${local}Z`,
      takenAtLocal: local,
      takenAtSource: 'mtime',
      timeZone: null,
      timeZoneSource: null,
    };
  }
  return { ...NO_TIME };
}
