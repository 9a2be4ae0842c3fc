import { useEffect, useMemo, useReducer } from 'react';
import { getJson, type AssetListItem, type AssetPage } from '../api.js';

/** Assets are fetched in blocks of this many: any block of a million-asset grid is one keyset request. */
export const BLOCK = 120;

/** A month header of a time order: where its assets start in the grid. */
export interface MonthStart {
  month: string;
  offset: number;
}

/**
 * The pages of one listing (one filter query) that the grid has asked for. A block is fetched when it
 * comes into view, and fetched again when the archive's `version` changed since (new thumbnails during a
 * run); until then the old block stays on screen, so nothing flickers. The server pages by keyset: a block
 * that follows a loaded one continues from its cursor; any other (a jump, a scroll bar dragged) starts
 * at its month (`month=`, from the date headers) and skips at most that month's assets, so no request
 * walks the listing from its start.
 */
export class BlockStore {
  total: number | undefined;
  error: Error | undefined;
  private readonly blocks = new Map<
    number,
    { items: AssetListItem[]; version: string; nextCursor: string | null }
  >();
  private readonly inflight = new Set<number>();
  private version = '';
  private range: [number, number] = [0, 1];
  private disposed = false;
  private months: readonly MonthStart[] = [];

  constructor(
    readonly query: string,
    private readonly changed: () => void,
  ) {}

  get(index: number): AssetListItem | undefined {
    return this.blocks.get(Math.floor(index / BLOCK))?.items[index % BLOCK];
  }

  setVersion(version: string): void {
    if (version === this.version) return;
    this.version = version;
    this.ensure(...this.range);
  }

  /** The date headers of a time order, oldest position first: where a jump starts its request. */
  setMonths(months: readonly MonthStart[]): void {
    this.months = months;
  }

  /** The grid shows [start, end): make sure those blocks are here and current. */
  ensure = (start: number, end: number): void => {
    this.range = [start, Math.max(end, start + 1)];
    const last = Math.floor((this.range[1] - 1) / BLOCK);
    for (let block = Math.floor(start / BLOCK); block <= last; block++) this.load(block);
  };

  dispose(): void {
    this.disposed = true;
  }

  /** Where block `block` starts, as the server pages: after the block before it, or from its month. */
  private position(block: number): string {
    const before = this.blocks.get(block - 1);
    if (before?.nextCursor) return `cursor=${encodeURIComponent(before.nextCursor)}`;
    const start = block * BLOCK;
    let lo = 0;
    let hi = this.months.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.months[mid]!.offset <= start) lo = mid + 1;
      else hi = mid;
    }
    const month = this.months[lo - 1];
    if (month) return `month=${month.month}&offset=${start - month.offset}`;
    return `offset=${start}`;
  }

  private load(block: number): void {
    const have = this.blocks.get(block);
    if (this.inflight.has(block) || (have && have.version === this.version)) return;
    this.inflight.add(block);
    const version = this.version;
    const url = `/api/assets?${this.query}${this.query ? '&' : ''}${this.position(block)}&limit=${BLOCK}`;
    getJson<AssetPage>(url)
      .then(
        (page) => {
          if (this.disposed) return;
          this.blocks.set(block, { items: page.items, version, nextCursor: page.nextCursor });
          this.total = page.total;
          this.error = undefined;
        },
        (error: unknown) => {
          if (this.disposed) return;
          this.error = error as Error;
          if (this.total === undefined) this.total = 0;
        },
      )
      .finally(() => {
        this.inflight.delete(block);
        if (this.disposed) return;
        this.changed();
        // The archive changed while this block was on its way: fetch it again if it is still in view.
        const [start, end] = this.range;
        if (version !== this.version && block * BLOCK < end && (block + 1) * BLOCK > start) this.load(block);
      });
  }
}

export function useAssetBlocks(query: string, version: string): BlockStore {
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  const store = useMemo(() => new BlockStore(query, rerender), [query]);
  useEffect(() => {
    store.setVersion(version);
  }, [store, version]);
  useEffect(() => () => store.dispose(), [store]);
  return store;
}
