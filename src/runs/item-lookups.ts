import fs from 'node:fs';
import path from 'node:path';
import { artifactFileExists } from '../artifacts/artifact-store.js';
import { pathText, sourceFilePath } from '../catalog/file-names.js';
import type { SourcePath } from '../catalog/source-reader.js';
import type { Home } from '../home/home.js';
import { artifactsByCacheKeys, type ReuseCandidate } from '../store/artifacts-repository.js';
import { assetRows, presentLocations } from '../store/assets-repository.js';
import { sidecarsOfAssets } from '../store/sidecars-repository.js';
import type { SidecarInput } from '../pipeline/step.js';
import type { AssetRow, RunRow } from '../store/schema.js';
import { rootOnThisHost, type SourceRoots } from './source-mapping.js';

/**
 * What processing an item needs to read (the asset, a present file, a reusable artifact), fetched once
 * per claimed batch rather than once per item: with quick steps these reads were most of the bookkeeping.
 * Anything not prefetched is read on demand, so correctness never depends on the batch.
 */
/** Where an asset's file is now, and what the catalog recorded of it there. */
export interface PresentLocation {
  /** The exact bytes when the cataloged name is not UTF-8 (file-names.ts). */
  file: SourcePath;
  mtimeNs: string;
  inode: string;
}

/** Where the catalog says an asset's file is: the first location really on disk, and those that were not. */
export interface FileLookup {
  found: PresentLocation | null;
  /** Cataloged present locations with no file there now (moved or deleted since the catalog), as text. */
  gone: string[];
}

export class ItemLookups {
  private readonly assets = new Map<string, AssetRow>();
  private readonly files = new Map<string, FileLookup>();
  private readonly candidates = new Map<string, ReuseCandidate[]>();
  private readonly sidecarsByAsset = new Map<string, SidecarInput[]>();

  constructor(
    private readonly home: Home,
    private readonly run: RunRow,
    /** Where this host sees each source (`archivist worker --map`); the cataloged root otherwise. */
    private readonly roots?: SourceRoots,
  ) {}

  /** Loads the assets, their present locations and the artifacts matching the given cache keys. */
  async prefetch(assetIds: readonly string[], cacheKeys: readonly string[]): Promise<void> {
    this.assets.clear();
    this.files.clear();
    this.candidates.clear();
    const ids = [...new Set(assetIds)];
    if (ids.length === 0) return;
    for (const asset of await assetRows(this.home.db, ids)) this.assets.set(asset.id, asset);
    const locations = await presentLocations(this.home.db, ids);
    for (const id of ids) this.files.set(id, this.firstExisting(locations.filter((l) => l.asset_id === id)));
    for (const key of cacheKeys) this.candidates.set(key, []);
    for (const row of await artifactsByCacheKeys(this.home.db, cacheKeys))
      this.candidates.get(row.cache_key)!.push(row);
  }

  /** Loads the sidecars of these assets (one query), for steps that read them. */
  async prefetchSidecars(assetIds: readonly string[]): Promise<void> {
    this.sidecarsByAsset.clear();
    const ids = [...new Set(assetIds)];
    if (ids.length === 0) return;
    for (const id of ids) this.sidecarsByAsset.set(id, []);
    for (const row of await sidecarsOfAssets(this.home.db, ids)) {
      this.sidecarsByAsset.get(row.mediaAssetId)!.push({
        kind: row.kind,
        file: path.join(row.root, ...row.path.split('/')),
        path: row.path,
        sha256: row.sha256,
        size: row.size,
        mtimeNs: row.mtimeNs,
        inode: row.inode,
      });
    }
  }

  /** The asset's sidecars as the catalog links them now. */
  async sidecars(assetId: string): Promise<SidecarInput[]> {
    const known = this.sidecarsByAsset.get(assetId);
    if (known) return known;
    await this.prefetchSidecars([assetId]);
    return this.sidecarsByAsset.get(assetId) ?? [];
  }

  async asset(id: string): Promise<AssetRow> {
    const known = this.assets.get(id);
    if (known) return known;
    const [row] = await assetRows(this.home.db, [id]);
    if (!row) throw new Error(`asset ${id} is not in the catalog`);
    return row;
  }

  /**
   * A present location that really exists on disk, with what the catalog recorded of it (checked by the
   * step before it uses the file), and the cataloged ones that are gone. `fresh` reads the catalog again
   * instead of the batch's prefetch: a catalog run since the batch was claimed may have recorded a move.
   */
  async presentFile(assetId: string, fresh = false): Promise<FileLookup> {
    const known = fresh ? undefined : this.files.get(assetId);
    if (known !== undefined) return known;
    const lookup = this.firstExisting(await presentLocations(this.home.db, [assetId]));
    this.files.set(assetId, lookup);
    return lookup;
  }

  /** An existing artifact with this cache key that this run may reuse, whose file is really in the store. */
  async reusable(cacheKey: string): Promise<{ id: string; path: string } | undefined> {
    const candidates =
      this.candidates.get(cacheKey) ?? (await artifactsByCacheKeys(this.home.db, [cacheKey]));
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

  private firstExisting(
    rows: readonly { source: string; root: string; path: string; mtime_ns: string; inode: string }[],
  ): FileLookup {
    const gone: string[] = [];
    for (const row of rows) {
      // The exact bytes when the cataloged name is not UTF-8.
      const file = sourceFilePath(rootOnThisHost(this.roots, row.source, row.root), row.path);
      // An inode number belongs to the filesystem that gave it: through another host's mount (NFS, SMB)
      // the same file may have another, so a mapped source is checked by size and time (and content).
      const inode = this.roots?.has(row.source) ? '' : row.inode;
      if (fs.existsSync(file)) return { found: { file, mtimeNs: row.mtime_ns, inode }, gone };
      gone.push(pathText(file));
    }
    return { found: null, gone };
  }
}
