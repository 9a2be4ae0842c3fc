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
