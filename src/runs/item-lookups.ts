import fs from 'node:fs';
import path from 'node:path';
import { artifactFileExists } from '../artifacts/artifact-store.js';
import type { Home } from '../home/home.js';
import type { AssetRow, RunRow } from '../store/schema.js';

interface Candidate {
  id: string;
  path: string;
  size: number;
  expires_at: string | null;
  cache_key: string;
}

/**
 * What processing an item needs to read (the asset, a present file, a reusable artifact), fetched once
 * per claimed batch rather than once per item: with quick steps these reads were most of the bookkeeping.
 * Anything not prefetched is read on demand, so correctness never depends on the batch.
 */
export class ItemLookups {
  private readonly assets = new Map<string, AssetRow>();
  private readonly files = new Map<string, PresentLocation | null>();
  private readonly candidates = new Map<string, Candidate[]>();

  constructor(
    private readonly home: Home,
    private readonly run: RunRow,
  ) {}

  /** Loads the assets, their present locations and the artifacts matching the given cache keys. */
  async prefetch(assetIds: readonly string[], cacheKeys: readonly string[]): Promise<void> {
    this.assets.clear();
    this.files.clear();
    this.candidates.clear();
    const ids = [...new Set(assetIds)];
    if (ids.length === 0) return;
    for (const asset of await this.home.db
      .selectFrom('assets')
      .selectAll()
      .where('id', 'in', ids)
      .execute()) {
      this.assets.set(asset.id, asset);
    }
    const locations = await this.home.db
      .selectFrom('locations')
      .innerJoin('sources', 'sources.id', 'locations.source_id')
      .select([
        'locations.asset_id',
        'sources.path as root',
        'locations.path',
        'locations.mtime_ns',
        'locations.inode',
      ])
      .where('locations.asset_id', 'in', ids)
      .where('locations.status', '=', 'present')
      .orderBy('locations.id')
      .execute();
    for (const id of ids) this.files.set(id, firstExisting(locations.filter((l) => l.asset_id === id)));
    if (cacheKeys.length > 0) {
      for (const key of cacheKeys) this.candidates.set(key, []);
      const rows = await this.home.db
        .selectFrom('artifacts')
        .select(['id', 'path', 'size', 'expires_at', 'cache_key'])
        .where('cache_key', 'in', [...new Set(cacheKeys)])
        .orderBy('created_at', 'desc')
        .execute();
      for (const row of rows) this.candidates.get(row.cache_key)!.push(row);
    }
  }

  async asset(id: string): Promise<AssetRow> {
    return (
      this.assets.get(id) ??
      (await this.home.db.selectFrom('assets').selectAll().where('id', '=', id).executeTakeFirstOrThrow())
    );
  }

  /**
   * A present location that really exists on disk, with what the catalog recorded of it (checked by the
   * step before it uses the file), or null when the file is gone from every source.
   */
  async presentFile(assetId: string): Promise<PresentLocation | null> {
    const known = this.files.get(assetId);
    if (known !== undefined) return known;
    const rows = await this.home.db
      .selectFrom('locations')
      .innerJoin('sources', 'sources.id', 'locations.source_id')
      .select(['sources.path as root', 'locations.path', 'locations.mtime_ns', 'locations.inode'])
      .where('locations.asset_id', '=', assetId)
      .where('locations.status', '=', 'present')
      .orderBy('locations.id')
      .execute();
    return firstExisting(rows);
  }

  /** An existing artifact with this cache key that this run may reuse, whose file is really in the store. */
  async reusable(cacheKey: string): Promise<{ id: string } | undefined> {
    const candidates =
      this.candidates.get(cacheKey) ??
      (await this.home.db
        .selectFrom('artifacts')
        .select(['id', 'path', 'size', 'expires_at', 'cache_key'])
        .where('cache_key', '=', cacheKey)
        .orderBy('created_at', 'desc')
        .execute());
    const nowIso = new Date().toISOString();
    return candidates.find(
      (candidate) =>
        // Production work reuses only kept artifacts; a sandbox run may reuse anything not yet expired.
        (this.run.policy === 'sandbox'
          ? candidate.expires_at === null || candidate.expires_at > nowIso
          : candidate.expires_at === null) &&
        artifactFileExists(this.home.layout, candidate.path, candidate.size),
    );
  }
}

export interface PresentLocation {
  file: string;
  mtimeNs: string;
  inode: string;
}

function firstExisting(
  rows: readonly { root: string; path: string; mtime_ns: string; inode: string }[],
): PresentLocation | null {
  for (const row of rows) {
    const file = path.join(row.root, ...row.path.split('/'));
    if (fs.existsSync(file)) return { file, mtimeNs: row.mtime_ns, inode: row.inode };
  }
  return null;
}
