import type { Db } from '../store/database.js';
import { listingVersions } from '../store/assets-repository.js';
import type { MetadataFacts } from './metadata-index.js';

export interface ListedAsset {
  id: string;
  /** Unique, ascending in listing order: what a cursor names. */
  key: string;
  /** In a time-ordered listing, the month (`YYYY-MM`) the asset is shown under. */
  month?: string;
}

export interface ListingDependencies {
  /** The listing changes when artifacts do (has/lacks an artifact kind, metadata filters). */
  artifacts: boolean;
  /** The listing changes when work items do (missing a step, failed in a run): kept for 2 s only. */
  workItems: boolean;
  /**
   * A time order follows the metadata artifacts; during a run re-sorting the catalog for every new one
   * would cost more than a page. With this set, a listing whose artifacts changed is still answered, and
   * re-sorted in the background at most this often (the grid fetches again after changes settle).
   */
  settleMs?: number;
}

const MAX_ENTRIES = 4;
const WORK_ITEM_TTL_MS = 2000;

/**
 * The ordered ids of a filtered listing, kept while what it depends on is unchanged, so that the grid's
 * pages (at any offset) and the total cost a slice, not a sort of the whole catalog each time. Runs add
 * artifacts, not assets: an unfiltered listing stays valid through a whole run.
 */
interface Entry {
  version: string;
  catalog: string;
  at: number;
  list: Promise<ListedAsset[]>;
  /** A newer listing is being computed in the background (settling entries only). */
  refreshing?: boolean;
}

export class AssetListing {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly db: Db) {}

  async ordered(
    key: string,
    depends: ListingDependencies,
    compute: () => Promise<ListedAsset[]>,
  ): Promise<{ list: ListedAsset[]; settling: boolean }> {
    const versions = await listingVersions(this.db);
    const version = [
      versions.catalog,
      depends.artifacts ? versions.artifacts : '',
      depends.workItems ? Math.floor(Date.now() / WORK_ITEM_TTL_MS) : '',
    ].join('|');
    const hit = this.entries.get(key);
    if (hit && hit.version === version) {
      this.entries.delete(key); // most recently used last
      this.entries.set(key, hit);
      return { list: await hit.list, settling: false };
    }
    if (hit && depends.settleMs !== undefined && hit.catalog === versions.catalog) {
      // Only artifacts moved on (a run adds metadata): answer from the listing at hand, and sort anew in the
      // background at most every settleMs, so no request waits for a sort of the whole catalog.
      if (!hit.refreshing && Date.now() - hit.at >= depends.settleMs) {
        hit.refreshing = true;
        const list = compute();
        list.then(
          () => this.store(key, { version, catalog: versions.catalog, at: Date.now(), list }),
          () => (hit.refreshing = false),
        );
      }
      // `settling`: a newer order is on its way; a client asks again in a moment.
      return { list: await hit.list, settling: true };
    }
    const list = compute();
    this.store(key, { version, catalog: versions.catalog, at: Date.now(), list });
    list.catch(() => this.entries.delete(key));
    return { list: await list, settling: false };
  }

  private store(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
    while (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
  }
}

export function encodeCursor(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}

/** The position after the cursor's key, or undefined for a cursor that is not one of ours. */
export function positionAfter(list: readonly ListedAsset[], cursor: string): number | undefined {
  const key = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!key || encodeCursor(key) !== cursor) return undefined;
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.key <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** How a listing is ordered: by capture time (newest or oldest first) or by source and path. */
export type ListingSort = 'newest' | 'oldest' | 'path';

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
  facts: MetadataFacts | undefined,
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

/** Where an asset sorts: its wall-clock time in ms (as if UTC) and its month; null without any time. */
export interface Placement {
  ms: number;
  month: string;
}

/**
 * The same time as listingTime, reduced to what ordering needs, without formatting any date: a listing
 * places every asset of the catalog (100,000 and more) on each re-sort, a page formats a hundred.
 */
export function placementOf(facts: MetadataFacts | undefined, mtimeMs: number | undefined): Placement | null {
  for (const stamp of [facts?.takenAtLocal, facts?.takenAt?.replace(OFFSET, '')]) {
    if (!stamp) continue;
    const ms = wallClockMs(stamp);
    if (!Number.isNaN(ms)) return { ms, month: stamp.slice(0, 7) };
  }
  if (mtimeMs === undefined) return null;
  const date = new Date(mtimeMs);
  return {
    ms: mtimeMs,
    month: `${date.getUTCFullYear()}-${String(date.getUTCMonth() + 1).padStart(2, '0')}`,
  };
}

/**
 * A key that sorts (as text, ascending) in the listing's order: the time, turned around for newest
 * first, then the path key, which is unique per asset. In SQL: `order by taken_local desc, path`.
 */
export function timeSortKey(ms: number | null, pathKey: string, sort: 'newest' | 'oldest'): string {
  // Shifted to be positive for any year from -1200 on, and padded to one width, so text order is number order.
  const n = ms === null || Number.isNaN(ms) ? 9e15 : sort === 'newest' ? 1e14 - ms : ms + 1e14;
  return `${String(Math.round(n)).padStart(16, '0')}|${pathKey}`;
}

/** Orders a path-ordered listing by time; every entry keeps the month it is shown under. */
export function orderByTime(
  list: readonly ListedAsset[],
  placeOf: (id: string) => Placement | null,
  sort: 'newest' | 'oldest',
): ListedAsset[] {
  const placed = list.map((entry, index) => ({ entry, index, place: placeOf(entry.id) }));
  // Numbers first, then the path order the list already has: no text comparison of 100,000 keys.
  const sign = sort === 'newest' ? -1 : 1;
  placed.sort((a, b) => {
    if (!a.place || !b.place) return (a.place ? 0 : 1) - (b.place ? 0 : 1) || a.index - b.index;
    return sign * (a.place.ms - b.place.ms) || a.index - b.index;
  });
  return placed.map(({ entry, place }) => ({
    id: entry.id,
    key: timeSortKey(place?.ms ?? null, entry.key, sort),
    month: place?.month ?? '',
  }));
}

export interface MonthGroup {
  /** `YYYY-MM`, or '' for the assets without any time. */
  month: string;
  count: number;
  /** Position of its first asset in the listing. */
  offset: number;
}

/** The month headers of a time-ordered listing. In SQL: `group by month` over the same order. */
export function monthGroups(list: readonly ListedAsset[]): MonthGroup[] {
  const groups: MonthGroup[] = [];
  list.forEach((entry, index) => {
    const month = entry.month ?? '';
    const last = groups.at(-1);
    if (last && last.month === month) last.count++;
    else groups.push({ month, count: 1, offset: index });
  });
  return groups;
}
