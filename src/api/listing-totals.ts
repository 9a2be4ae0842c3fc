/**
 * How many assets a listing has, kept a few seconds per filter set: a grid asks for a block at a time and
 * every block carries the total, which is one count over the listing's index (and, for the filters that
 * probe another table per row, a probe per listed asset). Counting it once per two seconds instead of once
 * per block keeps scrolling at the cost of a page; the key holds the catalog's version, so a catalog pass
 * is seen at once, and artifacts (has/lacks) within two seconds. A handful of numbers, never the listing.
 */
const TTL_MS = 2000;
const MAX_ENTRIES = 32;

export class ListingTotals {
  private readonly entries = new Map<string, { at: number; total: Promise<number> }>();

  constructor(private readonly now: () => number = Date.now) {}

  get(key: string, count: () => Promise<number>): Promise<number> {
    const hit = this.entries.get(key);
    if (hit && this.now() - hit.at < TTL_MS) return hit.total;
    const total = count();
    this.entries.delete(key);
    this.entries.set(key, { at: this.now(), total });
    total.catch(() => this.entries.delete(key));
    while (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    return total;
  }
}
