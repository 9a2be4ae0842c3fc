import { table } from './output.js';
import { printable } from './printable.js';

/**
 * The normalized metadata of an asset as a person reads it: when (with the zone, or a plain statement
 * that it is unknown), where, with what, and how, in the units photographers use (`1/250 s`, `f/2.8`).
 */

// EXIF strings come from the file: escaped like its name (printable).
const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== ''
    ? printable(value)
    : typeof value === 'number'
      ? String(value)
      : undefined;
const num = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);

/** 0.0011 → `1/887 s`, 2.5 → `2.5 s`: how cameras and photographers write exposure times. */
export function formatExposure(seconds: number): string {
  if (seconds >= 1) return `${Number(seconds.toFixed(1))} s`;
  return `1/${Math.round(1 / seconds)} s`;
}

function when(m: Record<string, unknown>): string | undefined {
  // core@2 gives the wall-clock time (takenAtLocal) and the instant only where the zone is known; core@1
  // gives one stamp, whose zone is known only where timeZone says so.
  const local = text(m.takenAtLocal);
  const instant = text(m.takenAt);
  const shown = local ?? instant;
  if (!shown) return undefined;
  const zone = text(m.timeZone) ?? 'time zone unknown';
  const zoneFrom = text(m.timeZoneSource) ? ` from ${text(m.timeZoneSource)}` : '';
  const source = text(m.takenAtSource) ? `; ${text(m.takenAtSource)}` : '';
  const alsoInstant = local && instant && instant !== local ? `, ${instant}` : '';
  return `${shown} (${zone}${zoneFrom}${source})${alsoInstant}`;
}

function where(m: Record<string, unknown>): string | undefined {
  const gps = m.gps as { latitude?: unknown; longitude?: unknown; altitude?: unknown } | null | undefined;
  const lat = num(gps?.latitude);
  const lon = num(gps?.longitude);
  if (lat === undefined || lon === undefined) return undefined;
  const alt = num(gps?.altitude);
  return `${lat.toFixed(5)}, ${lon.toFixed(5)}${alt !== undefined ? ` at ${Math.round(alt)} m` : ''}`;
}

function exposure(m: Record<string, unknown>): string | undefined {
  const parts = [
    num(m.exposureTime) !== undefined ? formatExposure(num(m.exposureTime)!) : undefined,
    num(m.fNumber) !== undefined ? `f/${Number(num(m.fNumber)!.toFixed(1))}` : undefined,
    num(m.focalLength) !== undefined ? `${Number(num(m.focalLength)!.toFixed(1))} mm` : undefined,
    num(m.iso) !== undefined ? `ISO ${num(m.iso)}` : undefined,
  ].filter((part) => part !== undefined);
  return parts.length > 0 ? parts.join(', ') : undefined;
}

function duration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

export function metadataLines(m: Record<string, unknown>): string[] {
  const camera = [text(m.make), text(m.model)].filter(Boolean).join(' ');
  const width = num(m.width);
  const height = num(m.height);
  const rows: [string, string | undefined][] = [
    ['taken', when(m)],
    ['place', where(m)],
    ['camera', camera || undefined],
    ['lens', text(m.lens)],
    ['exposure', exposure(m)],
    ['size', width !== undefined && height !== undefined ? `${width} × ${height} px` : undefined],
    ['duration', num(m.durationSec) !== undefined ? duration(num(m.durationSec)!) : undefined],
    ['type', text(m.mimeType)],
    ['rating', num(m.rating) !== undefined ? String(num(m.rating)) : undefined],
    [
      'keywords',
      Array.isArray(m.keywords) && m.keywords.length > 0 ? m.keywords.map(text).join(', ') : undefined,
    ],
    // core@2: the fields a sidecar (XMP edit, Takeout JSON) decided.
    [
      'from sidecar',
      Array.isArray(m.fromSidecar) && m.fromSidecar.length > 0
        ? m.fromSidecar.map(text).join(', ')
        : undefined,
    ],
  ];
  return table(rows.filter((row): row is [string, string] => row[1] !== undefined)).split('\n');
}
