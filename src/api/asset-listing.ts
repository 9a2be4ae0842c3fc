import type { Db } from '../store/database.js';
import { listingVersions } from '../store/assets-repository.js';

export interface ListedAsset {
  id: string;
  key: string;
}

export interface ListingDependencies {
  /** The listing changes when artifacts do (has/lacks an artifact kind, metadata filters). */
  artifacts: boolean;
  /** The listing changes when work items do (missing a step, failed in a run): kept for 2 s only. */
  workItems: boolean;
}

const MAX_ENTRIES = 4;
const WORK_ITEM_TTL_MS = 2000;

/**
 * The ordered ids of a filtered listing, kept while what it depends on is unchanged, so that the grid's
 * pages (at any offset) and the total cost a slice, not a sort of the whole catalog each time. Runs add
 * artifacts, not assets: an unfiltered listing stays valid through a whole run.
 */
export class AssetListing {
  private readonly entries = new Map<string, { version: string; list: Promise<ListedAsset[]> }>();

  constructor(private readonly db: Db) {}

  async ordered(
    key: string,
    depends: ListingDependencies,
    compute: () => Promise<ListedAsset[]>,
  ): Promise<ListedAsset[]> {
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
      return hit.list;
    }
    const list = compute();
    this.entries.set(key, { version, list });
    list.catch(() => this.entries.delete(key));
    while (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    return list;
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
