import { metadataOf, shownArtifact, toArtifactJson, type ArtifactJson } from '../artifacts/artifact-json.js';
import type { Home } from '../home/home.js';
import { artifactsOfAsset } from '../store/artifacts-repository.js';
import type { AssetWithLocations } from '../store/assets-repository.js';
import { sidecarsOfAssets } from '../store/sidecars-repository.js';
import { toAssetJson, type AssetJson } from './asset-json.js';
import { relatedAssets, type RelatedJson } from './related-assets.js';

/**
 * Everything `archivist asset --json` and `GET /api/assets/:id` say about one asset: the catalog's
 * facts, every artifact with lineage, the shown metadata, the sidecars linked to it, whether that
 * metadata is stale against them, and its related assets. One function, so the CLI and the API speak
 * the same contract.
 */

export interface SidecarJson {
  source: string;
  path: string;
  sha256: string;
  kind: 'xmp' | 'takeout-json';
}

export interface MetadataStatus {
  /** The metadata artifact shown (current, else newest). */
  artifactId: string;
  pipeline: string;
  /** True when the sidecars it was made from are not the ones linked now: a new run recomputes it. */
  stale: boolean;
  reasons: string[];
}

export type AssetDetail = AssetJson & {
  artifacts: ArtifactJson[];
  metadata: unknown;
  metadataStatus: MetadataStatus | null;
  sidecars: SidecarJson[];
  related: RelatedJson[];
};

/** Compares the sidecars a metadata artifact read (its lineage inputs) with those linked now. */
export function metadataStatusOf(
  artifact: ArtifactJson | undefined,
  sidecars: readonly SidecarJson[],
): MetadataStatus | null {
  if (!artifact) return null;
  const used = artifact.lineage.inputs.filter((input) => input.role === 'sidecar');
  const readsSidecars = artifact.lineage.tool.version.includes('normalized v2');
  const reasons: string[] = [];
  if (!readsSidecars) {
    // core@1 ignores sidecars by design: not stale, but say why they are not in it.
    if (sidecars.length > 0)
      reasons.push(`made by ${artifact.lineage.pipeline}, which does not read sidecars (run core@2)`);
    return { artifactId: artifact.id, pipeline: artifact.lineage.pipeline, stale: false, reasons };
  }
  const now = new Set(sidecars.map((s) => s.sha256));
  const then = new Set(used.map((u) => u.sha256));
  for (const sidecar of sidecars) {
    if (then.has(sidecar.sha256)) continue;
    const before = used.find((u) => u.path === sidecar.path);
    reasons.push(
      before ? `sidecar ${sidecar.path} changed since this metadata was made` : `new sidecar ${sidecar.path}`,
    );
  }
  for (const input of used) {
    if (!now.has(input.sha256) && !sidecars.some((s) => s.path === input.path))
      reasons.push(`sidecar ${input.path ?? input.sha256} is gone`);
  }
  return { artifactId: artifact.id, pipeline: artifact.lineage.pipeline, stale: reasons.length > 0, reasons };
}

export async function assetDetail(home: Home, asset: AssetWithLocations): Promise<AssetDetail> {
  const artifacts = (await artifactsOfAsset(home.db, asset.id)).map((a) => toArtifactJson(home.layout, a));
  const metadata = metadataOf(home.layout, artifacts);
  const sidecars = (await sidecarsOfAssets(home.db, [asset.id])).map((s): SidecarJson => ({
    source: s.source,
    path: s.path,
    sha256: s.sha256,
    kind: s.kind,
  }));
  return {
    ...toAssetJson(asset),
    artifacts,
    metadata,
    metadataStatus: metadataStatusOf(shownArtifact(artifacts, 'metadata'), sidecars),
    sidecars,
    related: await relatedAssets(home.db, home.layout, asset, metadata, artifacts),
  };
}
