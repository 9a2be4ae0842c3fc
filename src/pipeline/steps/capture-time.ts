import tzLookup from '@photostructure/tz-lookup';
import { DateTime, FixedOffsetZone, type Zone } from 'luxon';
import type { RawTags } from '../tools/exiftool-tool.js';

/**
 * When a picture was taken, and in which zone. Cameras store the wall-clock time of their own clock
 * without a zone; phones add offset tags; QuickTime stores UTC; GPS gives a place, hence a zone. This
 * module turns exiftool's group-prefixed tags into one instant with the best zone we can justify.
 */

/** Tags tried in this order (PRODUCT section 4); the first one holding a valid date wins. */
export const CAPTURE_TAGS = [
  'SubSecDateTimeOriginal',
  'DateTimeOriginal',
  'CreationDate',
  'CreateDate',
  'MediaCreateDate',
  'GPSDateTime',
] as const;

/** Within one tag name, the groups to believe first: exiftool's composites already merge sub-seconds. */
const GROUP_ORDER = ['Composite', 'EXIF', 'QuickTime', 'XMP', 'MakerNotes'];

/** QuickTime's own date fields are UTC by the format's definition (seconds since 1904 UTC). */
export const QUICKTIME_UTC_TAGS = new Set(['CreateDate', 'ModifyDate', 'MediaCreateDate', 'TrackCreateDate']);

export interface CaptureTime {
  /** ISO 8601 with the offset of its zone; `Z` when the zone is unknown (the wall clock, written as UTC). */
  takenAt: string | null;
  /** The tag that won (`DateTimeOriginal`, `CreateDate`, ...) or `mtime`. */
  takenAtSource: string | null;
  /** An IANA zone (`Europe/Berlin`) when the place or a matching offset says so, else an offset (`+01:00`). */
  timeZone: string | null;
}

interface ParsedDate {
  parts: {
    year: number;
    month: number;
    day: number;
    hour: number;
    minute: number;
    second: number;
    millisecond: number;
  };
  /** A numeric offset written in the value itself (minutes east of UTC), or null. */
  offset: number | null;
  /** The value ends in `Z`: a UTC instant whose local zone is not stated. */
  utc: boolean;
}

const DATE_PATTERN =
  /^(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?\s*(Z|[+-]\d{2}:?\d{2})?$/;

/** `2022:02:16 12:55:41.762+01:00` → parts and offset; blanks, zeros and impossible dates → null. */
export function parseExifDate(value: unknown): ParsedDate | null {
  if (typeof value !== 'string') return null;
  const match = DATE_PATTERN.exec(value.trim());
  if (!match) return null;
  const [, y, mo, d, h, mi, s, fraction, zone] = match;
  const parts = {
    year: Number(y),
    month: Number(mo),
    day: Number(d),
    hour: Number(h),
    minute: Number(mi),
    second: Number(s ?? 0),
    millisecond: fraction ? Math.floor(Number(`0.${fraction}`) * 1000) : 0,
  };
  // 1904-01-01 and 1970-01-01 at midnight are the zero values of QuickTime and Unix clocks: "not set".
  if (parts.year < 1900) return null;
  if (
    (parts.year === 1904 || parts.year === 1970) &&
    parts.month === 1 &&
    parts.day === 1 &&
    parts.hour === 0 &&
    parts.minute === 0 &&
    parts.second === 0
  )
    return null;
  if (!DateTime.fromObject(parts, { zone: 'utc' }).isValid) return null;
  return { parts, offset: zone === undefined || zone === 'Z' ? null : parseOffset(zone), utc: zone === 'Z' };
}

/** `+05:30`, `-0800`, `Z` → minutes east of UTC; anything else → null. */
export function parseOffset(text: unknown): number | null {
  if (typeof text !== 'string') return null;
  const trimmed = text.trim();
  if (trimmed === 'Z') return 0;
  const match = /^([+-])(\d{2}):?(\d{2})$/.exec(trimmed);
  if (!match) return null;
  const minutes = Number(match[2]) * 60 + Number(match[3]);
  return minutes > 14 * 60 ? null : (match[1] === '-' ? -1 : 1) * minutes;
}

export function formatOffset(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

type TagValue = { group: string; value: unknown };

/**
 * A file's tags by name (`EXIF:DateTimeOriginal` under `DateTimeOriginal`), made once per file: a camera
 * JPEG has a few hundred tags and the date rules ask for a dozen names.
 */
const tagsByName = new WeakMap<RawTags, Map<string, TagValue[]>>();

function byName(tags: RawTags): Map<string, TagValue[]> {
  let index = tagsByName.get(tags);
  if (!index) {
    index = new Map();
    for (const [key, value] of Object.entries(tags)) {
      const colon = key.lastIndexOf(':');
      if (colon === -1) continue;
      const name = key.slice(colon + 1);
      const list = index.get(name);
      if (list) list.push({ group: key.slice(0, colon), value });
      else index.set(name, [{ group: key.slice(0, colon), value }]);
    }
    tagsByName.set(tags, index);
  }
  return index;
}

/** Every value of tag `name` in any group, the trusted groups first. */
export function valuesOf(tags: RawTags, name: string): TagValue[] {
  const found = [...(byName(tags).get(name) ?? [])];
  const rank = (group: string) =>
    GROUP_ORDER.includes(group) ? GROUP_ORDER.indexOf(group) : GROUP_ORDER.length;
  return found.sort((a, b) => rank(a.group) - rank(b.group));
}

/** The offset tag that belongs with the winning date, then any other offset the file states. */
export function statedOffset(tags: RawTags, winner: string): number | null {
  const order =
    winner === 'CreateDate'
      ? ['OffsetTimeDigitized', 'OffsetTimeOriginal', 'OffsetTime']
      : ['OffsetTimeOriginal', 'OffsetTimeDigitized', 'OffsetTime'];
  for (const name of [...order, 'TimeZone']) {
    for (const { value } of valuesOf(tags, name)) {
      const offset = parseOffset(value);
      if (offset !== null) return offset;
    }
  }
  // EXIF TimeZoneOffset: whole hours, sometimes a list (the first is for DateTimeOriginal).
  for (const { value } of valuesOf(tags, 'TimeZoneOffset')) {
    const hours = Number(String(value).trim().split(/\s+/)[0]);
    if (Number.isInteger(hours) && hours >= -12 && hours <= 14) return hours * 60;
  }
  return null;
}

/** The IANA zone at a place, from an offline table; null for an invalid position. */
export function zoneAt(gps: { latitude: number; longitude: number } | null): string | null {
  if (!gps) return null;
  try {
    return tzLookup(gps.latitude, gps.longitude);
  } catch {
    return null;
  }
}

/** Renders an instant in a zone: a known zone prints its offset (even +00:00), an unknown one prints Z. */
function render(moment: DateTime, zone: Zone | null, label: string | null, source: string): CaptureTime {
  const shown = zone ? moment.setZone(zone) : moment.setZone('utc');
  const local = shown.toISO({ includeOffset: false, suppressMilliseconds: true });
  return {
    takenAt: `${local}${zone ? formatOffset(shown.offset) : 'Z'}`,
    takenAtSource: source,
    timeZone: zone ? label : null,
  };
}

/**
 * The zone of a value with a stated offset: the place's IANA zone when it agrees with the offset at that
 * instant (a name says more than a number: DST, history), else the offset itself.
 */
export function zoneForOffset(
  moment: DateTime,
  offset: number,
  placeZone: string | null,
): { zone: Zone; label: string } {
  if (placeZone && moment.setZone(placeZone).offset === offset) {
    return { zone: moment.setZone(placeZone).zone, label: placeZone };
  }
  return { zone: FixedOffsetZone.instance(offset), label: formatOffset(offset) };
}

export function captureTime(tags: RawTags, gps: { latitude: number; longitude: number } | null): CaptureTime {
  const placeZone = zoneAt(gps);
  for (const name of CAPTURE_TAGS) {
    for (const { group, value } of valuesOf(tags, name)) {
      const parsed = parseExifDate(value);
      if (!parsed) continue;
      const utcByDefinition = group === 'QuickTime' && QUICKTIME_UTC_TAGS.has(name);
      if (parsed.offset !== null) {
        // The value states its own offset: the instant and the zone are both known.
        const moment = DateTime.fromObject(parsed.parts, { zone: FixedOffsetZone.instance(parsed.offset) });
        const { zone, label } = zoneForOffset(moment, parsed.offset, placeZone);
        return render(moment, zone, label, name);
      }
      const offset = statedOffset(tags, name);
      if (parsed.utc || utcByDefinition) {
        // A UTC instant (`...Z`, GPS time, QuickTime dates): only the zone to show it in is missing.
        const moment = DateTime.fromObject(parsed.parts, { zone: 'utc' });
        if (offset !== null) {
          const { zone, label } = zoneForOffset(moment, offset, placeZone);
          return render(moment, zone, label, name);
        }
        return placeZone
          ? render(moment, moment.setZone(placeZone).zone, placeZone, name)
          : render(moment, null, null, name);
      }
      // A camera's wall clock: its zone comes from the offset tags, else from where it was.
      if (offset !== null) {
        const moment = DateTime.fromObject(parsed.parts, { zone: FixedOffsetZone.instance(offset) });
        const { zone, label } = zoneForOffset(moment, offset, placeZone);
        return render(moment, zone, label, name);
      }
      if (placeZone) {
        const moment = DateTime.fromObject(parsed.parts, { zone: placeZone });
        if (moment.isValid) return render(moment, moment.zone, placeZone, name);
      }
      return render(DateTime.fromObject(parsed.parts, { zone: 'utc' }), null, null, name);
    }
  }
  // Last resort: the file's modification time, an exact instant in an unknown zone.
  const mtime = parseExifDate(tags['File:FileModifyDate']);
  if (mtime && (mtime.offset !== null || mtime.utc)) {
    const moment = DateTime.fromObject(mtime.parts, { zone: FixedOffsetZone.instance(mtime.offset ?? 0) });
    return placeZone
      ? render(moment, moment.setZone(placeZone).zone, placeZone, 'mtime')
      : render(moment, null, null, 'mtime');
  }
  return { takenAt: null, takenAtSource: null, timeZone: null };
}
