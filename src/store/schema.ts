import type { Generated, Insertable, Selectable } from 'kysely';

/**
 * The tables Archivist keeps, as Kysely sees them. Times are ISO 8601 strings (UTC); file times and inode
 * numbers are decimal strings because nanosecond times and 64-bit inodes do not fit in a JS number.
 */
export interface Database {
  meta: MetaTable;
  sources: SourcesTable;
  assets: AssetsTable;
  locations: LocationsTable;
  scans: ScansTable;
  collections: CollectionsTable;
  runs: RunsTable;
  artifacts: ArtifactsTable;
  lineage: LineageTable;
  work_items: WorkItemsTable;
  run_workers: RunWorkersTable;
  sidecar_links: SidecarLinksTable;
  asset_facts: AssetFactsTable;
  asset_relations: AssetRelationsTable;
  pairing_keys: PairingKeysTable;
  asset_marks: AssetMarksTable;
}

export interface MetaTable {
  key: string;
  value: string;
}

export interface SourcesTable {
  id: Generated<number>;
  name: string;
  path: string;
  created_at: string;
}

export type MediaType = 'image' | 'video' | 'sidecar' | 'other';

export interface AssetsTable {
  /** The SHA-256 of the content, lower-case hex: an asset is its bytes. */
  id: string;
  size: number;
  media_type: MediaType;
  mime: string | null;
  first_seen_at: string;
}

export type LocationStatus = 'present' | 'missing';

export interface LocationsTable {
  id: Generated<number>;
  source_id: number;
  /** Relative to the source root, with `/` separators. */
  path: string;
  /** The folder of `path` ('' at the source root): the catalog reconciles folder by folder (0010). */
  dir: Generated<string>;
  asset_id: string;
  size: number;
  mtime_ns: string;
  ctime_ns: string;
  inode: string;
  status: LocationStatus;
  first_seen_at: string;
  first_scan_id: number;
  last_seen_at: string;
  missing_since: string | null;
}

export interface ScansTable {
  id: Generated<number>;
  source_id: number;
  started_at: string;
  finished_at: string | null;
  /** The catalog summary of PRODUCT section 5 as JSON, written when the scan ends. */
  summary_json: string | null;
}

export type SourceRow = Selectable<SourcesTable>;
export type AssetRow = Selectable<AssetsTable>;
export type LocationRow = Selectable<LocationsTable>;
export type NewLocation = Insertable<LocationsTable>;

export type RunStatus =
  'queued' | 'running' | 'cancelling' | 'cancelled' | 'paused' | 'interrupted' | 'completed';
export type Policy = 'sandbox' | 'production';
export type ItemStatus = 'pending' | 'running' | 'done' | 'failed' | 'skipped';

export interface CollectionsTable {
  id: Generated<number>;
  name: string;
  filters_json: string;
  created_at: string;
}

export interface RunsTable {
  id: string;
  pipeline_name: string;
  pipeline_version: number;
  params_json: string;
  tool_versions_json: string;
  collection_name: string | null;
  /** The collection's filters as they were when the run was made; the frozen scope is its work items. */
  scope_json: string;
  policy: Policy;
  min_free_bytes: number;
  min_free_spec: string;
  workers: number;
  max_attempts: number;
  item_timeout_ms: number;
  force: number;
  seed: number;
  status: RunStatus;
  status_reason: string | null;
  parent_run_id: string | null;
  host: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  coordinator_pid: number | null;
  coordinator_host: string | null;
  /** Milliseconds since the epoch; a run whose coordinator stopped beating is `interrupted`. */
  heartbeat_at: number | null;
  stats_json: string | null;
  /** Worker deaths seen by the run's coordinators, over all its sessions (migration 0007). */
  worker_crashes: Generated<number>;
  /** How long its sandbox results live, from the home's config when it was made (0015; null before). */
  sandbox_retention_days: number | null;
}

export interface ArtifactsTable {
  id: string;
  kind: string;
  step: string;
  asset_id: string;
  run_id: string;
  sha256: string;
  size: number;
  mime: string;
  /** Relative to the home's artifact store. */
  path: string;
  cache_key: string;
  policy: Policy;
  is_current: number;
  expires_at: string | null;
  created_at: string;
}

export interface LineageTable {
  artifact_id: string;
  run_id: string;
  pipeline: string;
  step: string;
  tool_name: string;
  tool_version: string;
  /** The decoder chain that made this artifact; null before migration 0006 or when a step does not say. */
  decoder: string | null;
  params_json: string;
  inputs_json: string;
  worker: string;
  host: string;
  duration_ms: number;
  created_at: string;
}

export interface WorkItemsTable {
  id: Generated<number>;
  run_id: string;
  asset_id: string;
  step: string;
  step_index: number;
  order_key: number;
  status: ItemStatus;
  attempts: Generated<number>;
  lease_owner: string | null;
  /** Bumped by every claim: writes about the item are fenced by (lease_owner, lease_epoch). */
  lease_epoch: Generated<number>;
  /** Milliseconds since the epoch by the database's clock. */
  lease_expires_at: number | null;
  not_before: Generated<number>;
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
  reason: string | null;
  message: string | null;
  stderr_tail: string | null;
  artifact_id: string | null;
  reused: Generated<number>;
}

/** Every worker process that took part in a run, on any host, with its figures (migration 0005). */
export interface RunWorkersTable {
  run_id: string;
  /** `host:pid`. */
  worker: string;
  host: string;
  claimed: number;
  done: number;
  failed: number;
  /** Completions refused because the lease had been taken over (fenced late completions). */
  refused: number;
  /** Items it decided were not for their step (no video stream, an input that never came). */
  skipped: Generated<number>;
  /** Items it gave back untouched (claimed ahead, then the run stopped or another item took long). */
  released: Generated<number>;
  /** Milliseconds since the epoch, by the database's clock. */
  first_seen_at: number;
  last_heartbeat_at: number;
}

export type RunRow = Selectable<RunsTable>;
export type WorkItemRow = Selectable<WorkItemsTable>;
export type ArtifactRow = Selectable<ArtifactsTable>;
export type LineageRow = Selectable<LineageTable>;
export type CollectionRow = Selectable<CollectionsTable>;

export type SidecarKind = 'xmp' | 'takeout-json';

/** A sidecar location linked to its media file's location (migration 0012, src/catalog/sidecar-links.ts). */
export interface SidecarLinksTable {
  sidecar_location_id: number;
  media_location_id: number;
  kind: SidecarKind;
  source_id: number;
}
/**
 * One row per asset (migration 0011): what listings filter and sort by, so each is an indexed query. The
 * catalog keeps `listed`, `media_type` and the file time; making a metadata artifact current writes the
 * capture facts and re-places the asset, in the same transaction.
 */
export interface AssetFactsTable {
  asset_id: string;
  /** 1 while the asset has a location (present or missing): an asset whose only file changed is not listed. */
  listed: number;
  media_type: MediaType;
  /** The earliest modification time (ms) of the locations it was cataloged at: the last-resort time. */
  file_mtime_ms: number;
  /** The wall-clock time it sorts by, in ms as if UTC (capture-facts.ts placementOf). */
  sort_ms: number;
  /** `YYYY-MM` of the same time: the grid's date headers. */
  month: string;
  /** The photo's own calendar day when the metadata gave a time; null when placed by the file time. */
  taken_day: string | null;
  metadata_artifact_id: string | null;
  taken_at: string | null;
  taken_at_source: string | null;
  taken_at_local: string | null;
  time_zone: string | null;
  time_zone_source: string | null;
  camera: string | null;
  /** `camera` case folded: what the camera filter compares. */
  camera_key: string | null;
  duration_sec: number | null;
}
export type AssetFactsRow = Selectable<AssetFactsTable>;

/**
 * The files that belong together, indexed (migration 0013, src/catalog/relation-index.ts): one row per
 * (asset, relative, relation) and folder group, in both directions, kept by the catalog and by every
 * metadata result, so the grid folds pairs and filters relatives without working them out per asset.
 */
export interface AssetRelationsTable {
  asset_id: string;
  related_asset_id: string;
  /** What the relative is to the asset (relation-rules.ts Relation). */
  relation: string;
  /** `content-identifier` or `name-and-time`. */
  by: string;
  source_id: number;
  /** The folder (as locations.dir) and `dir/stem` of the group: what a recomputation replaces. */
  dir: string;
  group_key: string;
  /** The relative's source-relative path. */
  path: string;
}

/** What pairing reads from an asset's metadata (migration 0013), written with each metadata result. */
export interface PairingKeysTable {
  asset_id: string;
  metadata_artifact_id: string;
  instant_ms: number | null;
  local_ms: number | null;
  content_identifier: string | null;
}

/**
 * What an asset has that a listing filters by (migration 0014), one row per (asset, mark), with a copy of
 * the asset's `listed`, `sort_ms` and `month` so a filtered listing, its total and its date headers are
 * read from this table's indexes alone. Marks: `source:<id>` (a location in that source), `dup` (more than
 * one present location), `kind:<kind>` (an artifact of that kind), `step:<step>` (a done work item of it).
 */
export interface AssetMarksTable {
  asset_id: string;
  mark: string;
  listed: number;
  sort_ms: number;
  month: string;
}
