/**
 * The capture facts a listing filters and sorts by, read from an asset's normalized metadata (PRODUCT
 * section 5), and the time an asset is placed by. Pure functions: the facts table (asset-facts-repository)
 * stores what they return, so that every listing is an indexed query instead of a sort in JavaScript.
 */
export interface CaptureFacts {
  /** ISO 8601 with offset, or UTC `Z` when the zone is unknown. */
  takenAt: string | null;
  /** The tag the time came from, or `mtime` when the metadata step fell back to the file's time. */
  takenAtSource: string | null;
  /** core@2: the wall-clock time where it was taken, ISO 8601 without offset. */
  takenAtLocal: string | null;
  timeZone: string | null;
  /** core@2: where the zone came from (a tag, the GPS position, ...). */
  timeZoneSource: string | null;
  /** Make and model as a person says it: "Canon EOS 40D". */
  camera: string | null;
  /** A video's length in seconds. */
  durationSec: number | null;
  /** core@2: Apple's content identifier, which pairs a Live Photo's still and video (relation-rules.ts). */
  contentIdentifier?: string | null;
  /** The metadata has schema 2's `takenAtLocal` field (even null): its `takenAt` is then an instant. */
  hasLocalTime?: boolean;
}

export const NO_FACTS: CaptureFacts = {
  takenAt: null,
  takenAtSource: null,
  takenAtLocal: null,
  timeZone: null,
  timeZoneSource: null,
  camera: null,
  durationSec: null,
};

function text(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
}

export function captureFactsOf(metadata: unknown): CaptureFacts {
  const m = metadata && typeof metadata === 'object' ? (metadata as Record<string, unknown>) : {};
  const make = text(m.make);
  const model = text(m.model);
  const camera =
    make && model
      ? model.toLowerCase().startsWith(make.toLowerCase())
        ? model
        : `${make} ${model}`
      : (make ?? model);
  const duration = m.durationSec;
  return {
    takenAt: text(m.takenAt),
    takenAtSource: text(m.takenAtSource),
    takenAtLocal: text(m.takenAtLocal),
    timeZone: text(m.timeZone),
    timeZoneSource: text(m.timeZoneSource),
    camera,
    durationSec: typeof duration === 'number' && Number.isFinite(duration) ? duration : null,
    contentIdentifier: text(m.contentIdentifier),
    hasLocalTime: 'takenAtLocal' in m,
  };
}

/** Which time an asset is placed by: core@2's wall-clock time, else the instant's, else the file's. */
export type TimeSource = 'takenAtLocal' | 'takenAt' | 'mtime';

export interface ListingTime {
  /** Wall-clock time where it was taken, ISO 8601 without offset (a file time: in UTC). */
  local: string;
  /** The zone or offset `local` is in; null when the camera did not say and no place tells. */
  zone: string | null;
  source: TimeSource;
}

const OFFSET = /(Z|[+-]\d{2}:?\d{2})$/;

function wallClockMs(local: string): number {
  return Date.parse(`${local}Z`);
}

/**
 * The time an asset sorts and groups by. A photo's wall-clock time, not the instant: a holiday abroad
 * sorts by the hours its pictures show. core@1 writes `Z` for an unknown zone, so its `takenAt` without
 * an offset tag is a wall-clock time too; a file time is an instant, used in UTC.
 */
export function listingTime(
  facts: CaptureFacts | undefined,
  mtimeMs: number | undefined,
): ListingTime | null {
  if (facts?.takenAtLocal && !Number.isNaN(wallClockMs(facts.takenAtLocal))) {
    const offset = facts.takenAt ? OFFSET.exec(facts.takenAt)?.[1] : undefined;
    return { local: facts.takenAtLocal, zone: facts.timeZone ?? offset ?? null, source: 'takenAtLocal' };
  }
  if (facts?.takenAt) {
    const offset = OFFSET.exec(facts.takenAt)?.[1];
    const local = facts.takenAt.replace(OFFSET, '');
    // The metadata step's own fallback to the file time is a file time, and says so.
    const fileTime = facts.takenAtSource === 'mtime';
    if (!Number.isNaN(wallClockMs(local)))
      return {
        local,
        zone: facts.timeZone ?? (offset && offset !== 'Z' ? offset : fileTime ? 'UTC' : null),
        source: fileTime ? 'mtime' : 'takenAt',
      };
  }
  if (mtimeMs === undefined) return null;
  return { local: new Date(mtimeMs).toISOString().slice(0, 19), zone: 'UTC', source: 'mtime' };
}

/** Where an asset sorts: its wall-clock time in ms (as if UTC) and its month (`YYYY-MM`). */
export interface Placement {
  ms: number;
  month: string;
  /** The photo's own calendar day when the metadata gave a time (what takenFrom/takenTo compare). */
  day: string | null;
}

/** The same time as listingTime, reduced to what ordering needs: what the facts table stores. */
export function placementOf(facts: CaptureFacts | undefined, mtimeMs: number): Placement {
  for (const stamp of [facts?.takenAtLocal, facts?.takenAt?.replace(OFFSET, '')]) {
    if (!stamp) continue;
    const ms = wallClockMs(stamp);
    if (!Number.isNaN(ms)) return { ms, month: stamp.slice(0, 7), day: stamp.slice(0, 10) };
  }
  const date = new Date(mtimeMs);
  return {
    ms: mtimeMs,
    month: `${date.getUTCFullYear()}-${String(date.getUTCMonth() + 1).padStart(2, '0')}`,
    day: null,
  };
}

/** The camera as the filter compares it: case folded, so `canon` finds "Canon EOS 40D". */
export function cameraKey(camera: string | null): string | null {
  return camera === null ? null : camera.toLowerCase();
}
