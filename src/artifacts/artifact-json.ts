import type { HomeLayout } from '../home/home-path.js';
import type { ArtifactWithLineage } from '../store/artifacts-repository.js';
import { absoluteArtifactPath, readStoredArtifact } from './artifact-store.js';

/** The artifact JSON of PRODUCT section 5, shared by the CLI and the API. */
export interface ArtifactJson {
  id: string;
  kind: string;
  step: string;
  assetId: string;
  runId: string;
  sha256: string;
  size: number;
  mime: string;
  path: string;
  policy: string;
  current: boolean;
  expiresAt: string | null;
  createdAt: string;
  /**
   * Set when a sandbox artifact was kept by `run promote`: the production run that took it over. The
   * lineage still names the sandbox run, because that is the run that made it.
   */
  promotedBy: { runId: string; at: string } | null;
  lineage: {
    runId: string;
    pipeline: string;
    step: string;
    tool: { name: string; version: string };
    /** The decoder chain that made this artifact, e.g. `exiftool 13.59 PreviewImage → sharp 0.34.5`. */
    decoder: string | null;
    params: Record<string, unknown>;
    createdAt: string;
    /** The asset, earlier steps' artifacts, and (core@2 metadata) the sidecars read, with `role: 'sidecar'`. */
    inputs: {
      assetId: string;
      sha256: string;
      artifactId?: string;
      role?: 'sidecar';
      kind?: string;
      path?: string;
    }[];
    worker: string;
    host: string;
    durationMs: number;
  };
}

export function toArtifactJson(layout: HomeLayout, artifact: ArtifactWithLineage): ArtifactJson {
  const { lineage } = artifact;
  return {
    id: artifact.id,
    kind: artifact.kind,
    step: artifact.step,
    assetId: artifact.asset_id,
    runId: artifact.run_id,
    sha256: artifact.sha256,
    size: artifact.size,
    mime: artifact.mime,
    path: absoluteArtifactPath(layout, artifact.path),
    policy: artifact.policy,
    current: artifact.is_current === 1,
    expiresAt: artifact.expires_at,
    createdAt: artifact.created_at,
    promotedBy: artifact.promotion,
    lineage: {
      runId: lineage.run_id,
      pipeline: lineage.pipeline,
      step: lineage.step,
      tool: { name: lineage.tool_name, version: lineage.tool_version },
      decoder: lineage.decoder ?? null,
      params: JSON.parse(lineage.params_json) as Record<string, unknown>,
      createdAt: lineage.created_at,
      inputs: JSON.parse(lineage.inputs_json) as ArtifactJson['lineage']['inputs'],
      worker: lineage.worker,
      host: lineage.host,
      durationMs: lineage.duration_ms,
    },
  };
}

/**
 * The normalized metadata of an asset: its current metadata artifact, else the newest one. Null until a
 * run has produced one (or when the file has gone from the store).
 */
export function metadataOf(layout: HomeLayout, artifacts: readonly ArtifactJson[]): unknown {
  const chosen = shownArtifact(artifacts, 'metadata');
  if (!chosen) return null;
  try {
    return JSON.parse(readStoredArtifact(layout, chosen.path).toString('utf8')) as unknown;
  } catch {
    return null;
  }
}

/** The artifact of a kind an asset shows: its current one, else the newest (artifacts come newest first). */
export function shownArtifact(artifacts: readonly ArtifactJson[], kind: string): ArtifactJson | undefined {
  const candidates = artifacts.filter((a) => a.kind === kind);
  return candidates.find((a) => a.current) ?? candidates[0];
}
