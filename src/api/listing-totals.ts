/**
 * How many assets a listing has, kept per filter set: a grid asks for a block at a time and every block
 * carries the total, which is one count over the listing's index (and, for the filters that probe another
 * table per row, a probe per listed asset: seconds at a few hundred thousand). The key holds the catalog's
 * version, so a catalog pass is seen at once. Within one version a total is kept at least 2 s, and longer
 * the more it cost (20 times its own counting time): an expensive total is then answered from the last
 * count while a new one runs, so no page waits for it twice. A handful of numbers, never the listing.
 */
const MIN_TTL_MS = 2000;
const COST_FACTOR = 20;
const MAX_ENTRIES = 32;

interface Entry {
  at: number;
  ttl: number;
  total: Promise<number>;
  /** A newer count on its way while the old total is still answered. */
  refreshing: boolean;
}

export class ListingTotals {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly now: () => number = Date.now) {}

  /** `recount` counts again behind a stale total (on SQLite in a thread of its own: off-thread-counts.ts). */
  get(key: string, count: () => Promise<number>, recount = count): Promise<number> {
    const hit = this.entries.get(key);
    if (!hit) return this.start(key, count);
    const age = this.now() - hit.at;
    if (age >= hit.ttl && !hit.refreshing) {
      hit.refreshing = true;
      // The old total answers meanwhile; the new one replaces it when it is there.
      const next = this.count(recount);
      next.entry.total.then(
        () => this.store(key, next.entry),
        () => (hit.refreshing = false),
      );
    }
    return hit.total;
  }

  private start(key: string, count: () => Promise<number>): Promise<number> {
    const { entry } = this.count(count);
    this.store(key, entry);
    entry.total.catch(() => this.entries.delete(key));
    return entry.total;
  }

  private count(count: () => Promise<number>): { entry: Entry } {
    const started = this.now();
    const entry: Entry = { at: started, ttl: MIN_TTL_MS, total: count(), refreshing: false };
    entry.total.then(
      () => (entry.ttl = Math.max(MIN_TTL_MS, COST_FACTOR * (this.now() - started))),
      () => undefined,
    );
    return { entry };
  }

  private store(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
    while (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
  }
}
