import path from 'node:path';
import type { AssetWithLocations } from '../store/assets-repository.js';

/**
 * The asset JSON of PRODUCT section 5, shared by the CLI and (later) the HTTP API so both speak the
 * same contract.
 */
export interface AssetJson {
  id: string;
  mediaType: string;
  mime: string | null;
  size: number;
  sha256: string;
  firstSeenAt: string;
  locations: {
    source: string;
    path: string;
    absolutePath: string;
    status: 'present' | 'missing';
    mtime: string;
    firstSeenAt: string;
    lastSeenAt: string;
    missingSince: string | null;
  }[];
}

function nsToIso(ns: string): string {
  return new Date(Number(BigInt(ns) / 1_000_000n)).toISOString();
}

export function toAssetJson(asset: AssetWithLocations): AssetJson {
  return {
    id: asset.id,
    mediaType: asset.media_type,
    mime: asset.mime,
    size: asset.size,
    // The id is the content hash today; both are given so clients never depend on that.
    sha256: asset.id,
    firstSeenAt: asset.first_seen_at,
    locations: asset.locations.map((location) => ({
      source: location.source,
      path: location.path,
      absolutePath: path.join(location.sourcePath, ...location.path.split('/')),
      status: location.status,
      mtime: nsToIso(location.mtimeNs),
      firstSeenAt: location.firstSeenAt,
      lastSeenAt: location.lastSeenAt,
      missingSince: location.missingSince,
    })),
  };
}
