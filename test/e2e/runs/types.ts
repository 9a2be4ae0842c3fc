/** The JSON the CLI prints and the rows the drills read straight from SQLite, as the drills use them. */

export interface StepCounts {
  total: number;
  pending: number;
  running: number;
  done: number;
  failed: number;
  skipped: number;
  reused: number;
}

export interface RunJson {
  id: string;
  status: 'queued' | 'running' | 'cancelling' | 'cancelled' | 'paused' | 'interrupted' | 'completed';
  statusReason: string | null;
  pipeline: { name: string; version: number };
  policy: 'sandbox' | 'production';
  params: Record<string, Record<string, unknown>>;
  toolVersions: Record<string, { name: string; version: string }>;
  collection: string | null;
  parentRunId: string | null;
  minFree: { bytes: number; spec: string };
  workers: number;
  maxAttempts: number;
  itemTimeoutSec: number;
  force: boolean;
  counts: StepCounts;
  steps: Record<string, StepCounts>;
  failures: {
    itemId: number;
    assetId: string;
    path: string | null;
    step: string;
    attempts: number;
    reason: string;
    message: string | null;
    stderrTail: string | null;
  }[];
  stats: Record<string, unknown> & { startedAt: string | null; finishedAt: string | null };
}

export interface AssetJson {
  id: string;
  mediaType: string;
  size: number;
  sha256: string;
  locations: { source: string; path: string; absolutePath: string; status: string }[];
  artifacts: ArtifactJson[];
  metadata: Record<string, unknown> | null;
}

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
  current: boolean;
  lineage: {
    runId: string;
    pipeline: string;
    step: string;
    tool: { name: string; version: string };
    params: Record<string, unknown>;
    inputs: { assetId: string; sha256: string; artifactId?: string }[];
  };
}

/** A work item as the database holds it (read-only, straight from SQLite). */
export interface ItemRow {
  id: number;
  run_id: string;
  asset_id: string;
  step: string;
  status: 'pending' | 'running' | 'done' | 'failed' | 'skipped';
  attempts: number;
  lease_owner: string | null;
  started_at: string | null;
  finished_at: string | null;
  reason: string | null;
  message: string | null;
  stderr_tail: string | null;
  artifact_id: string | null;
  reused: number;
}

export interface ArtifactRow {
  id: string;
  kind: string;
  step: string;
  asset_id: string;
  run_id: string;
  sha256: string;
  size: number;
  path: string;
  cache_key: string;
  policy: string;
  is_current: number;
  created_at: string;
}

export interface LineageRow {
  artifact_id: string;
  run_id: string;
  pipeline: string;
  step: string;
  tool_name: string;
  tool_version: string;
  params_json: string;
  inputs_json: string;
  worker: string;
  host: string;
}
