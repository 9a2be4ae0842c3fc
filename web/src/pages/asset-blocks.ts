import { useEffect, useMemo, useReducer } from 'react';
import { getJson, type AssetListItem, type AssetPage } from '../api.js';

/** Assets are fetched in blocks of this many, by offset: any block of a 100,000-asset grid is one request. */
export const BLOCK = 120;

/**
 * The pages of one listing (one filter query) that the grid has asked for. A block is fetched when it
 * comes into view, and fetched again when the archive's `version` changed since (new thumbnails during a
 * run); until then the old block stays on screen, so nothing flickers.
 */
export class BlockStore {
  total: number | undefined;
  error: Error | undefined;
  private readonly blocks = new Map<number, { items: AssetListItem[]; version: string }>();
  private readonly inflight = new Set<number>();
  private version = '';
  private range: [number, number] = [0, 1];
  private disposed = false;
  private retry: number | undefined;

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

  /** The grid shows [start, end): make sure those blocks are here and current. */
  ensure = (start: number, end: number): void => {
    this.range = [start, Math.max(end, start + 1)];
    const last = Math.floor((this.range[1] - 1) / BLOCK);
    for (let block = Math.floor(start / BLOCK); block <= last; block++) this.load(block);
  };

  dispose(): void {
    this.disposed = true;
    window.clearTimeout(this.retry);
  }

  private load(block: number): void {
    const have = this.blocks.get(block);
    if (this.inflight.has(block) || (have && have.version === this.version)) return;
    this.inflight.add(block);
    const version = this.version;
    const url = `/api/assets?${this.query}${this.query ? '&' : ''}offset=${block * BLOCK}&limit=${BLOCK}`;
    getJson<AssetPage>(url)
      .then(
        (page) => {
          if (this.disposed) return;
          this.blocks.set(block, { items: page.items, version });
          this.total = page.total;
          this.error = undefined;
          // The server answered from the order it had while it sorts anew (metadata came in): ask again.
          if (page.settling && this.retry === undefined)
            this.retry = window.setTimeout(() => {
              this.retry = undefined;
              if (!this.disposed) this.setVersion(`${this.version}+`);
            }, 1000);
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
