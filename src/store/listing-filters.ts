import { sql, type ExpressionBuilder, type Expression, type SqlBool } from 'kysely';
import { DUPLICATE_MARK, kindMark, sourceMark, stepMark } from './asset-marks-repository.js';
import { dialectOf } from './dialect.js';
import type { Db } from './database.js';
import { relationConditions } from './relations-repository.js';
import type { Database, MediaType } from './schema.js';

/**
 * The filters every asset listing of the API and the CLI shares, as SQL conditions on `asset_facts f`
 * (one row per listed asset). Each is an index lookup per candidate row (named in docs/listings.md), so
 * a page costs what it reads in index order, never a pass over the catalog.
 */
export interface ListingFilters {
  /** Only assets with a location in this source. */
  source?: { id: number; name: string };
  mediaTypes?: readonly MediaType[];
  /** A location path glob, case-insensitive; `*` also matches `/`. */
  pathGlob?: string;
  /** Only assets with no done work item of this step (in any run). */
  missingStep?: string;
  /** Only assets with a failed work item in this run. */
  failedInRun?: string;
  /** Has (or lacks) an artifact of this kind. */
  has?: string;
  lacks?: string;
  /** The photo's own calendar day (YYYY-MM-DD), from its capture time; assets placed by file time are out. */
  takenFrom?: string;
  takenTo?: string;
  /**
   * A camera, case-insensitively: the whole name as the facets give it (`exact`, served by
   * asset_facts_camera_time), or a part of it (`contains`: "EOS" finds "Canon EOS 40D", a row filter).
   */
  camera?: { name: string; match: 'exact' | 'contains' };
  /** Only assets at more than one present location. */
  duplicates?: boolean;
  /** Leave out a Live Photo's video and a RAW with its JPEG: each pair is one tile (relations-repository). */
  foldPairs?: boolean;
  /** Only assets with a related file (a Live Photo's other half, a RAW+JPEG twin). */
  relatives?: boolean;
}

type FactsScope = Database & { f: Database['asset_facts'] };
type Eb = ExpressionBuilder<FactsScope, 'f'>;

const DAY_MS = 86_400_000;

/** Midnight (as if UTC) of a calendar day: capture times are wall-clock times stored that way. */
export function dayStartMs(day: string): number {
  return Date.parse(`${day}T00:00:00Z`);
}

/** Does an asset have a location that satisfies the path glob (and source): locations_asset_source_path. */
function locationMatches(db: Db, eb: Eb, filters: ListingFilters): Expression<SqlBool> {
  let locations = eb.selectFrom('locations as l').select('l.id').whereRef('l.asset_id', '=', 'f.asset_id');
  if (filters.source) locations = locations.where('l.source_id', '=', filters.source.id);
  if (filters.pathGlob)
    locations = locations.where(dialectOf(db).pathMatchesGlob(sql.ref('l.path'), filters.pathGlob));
  return eb.exists(locations);
}

/** Does the asset have this mark: one probe of asset_marks' primary key (asset_id, mark). */
function hasMark(eb: Eb, mark: string): Expression<SqlBool> {
  return eb.exists(
    eb
      .selectFrom('asset_marks as k')
      .select('k.asset_id')
      .whereRef('k.asset_id', '=', 'f.asset_id')
      .where('k.mark', '=', mark),
  );
}

/**
 * The mark a listing with these filters can be read from (asset_marks_time), and the filters left once
 * that mark is read: the rarest first (a duplicate, an artifact kind), a source last (often everything).
 */
export function leadingMark(filters: ListingFilters): { mark: string; rest: ListingFilters } | null {
  if (filters.duplicates) return { mark: DUPLICATE_MARK, rest: { ...filters, duplicates: undefined } };
  if (filters.has) return { mark: kindMark(filters.has), rest: { ...filters, has: undefined } };
  if (filters.source && !filters.pathGlob)
    return { mark: sourceMark(filters.source.id), rest: { ...filters, source: undefined } };
  return null;
}

/** No filter at all: the listing is every listed asset. */
export function isUnfiltered(filters: ListingFilters): boolean {
  return Object.values(filters).every((v) => v === undefined || v === false);
}

/**
 * The conditions on `f` for these filters. `withLocation`: the source and path filters are checked here
 * (a time order); a path order reads locations itself and checks them on the location it lists.
 */
export function factsConditions(
  db: Db,
  eb: Eb,
  filters: ListingFilters,
  options: { withLocation: boolean; byKey?: boolean },
): Expression<SqlBool> {
  // `byKey`: the rows are a few found by primary key. SQLite would rather read the index that `listed`
  // leads and test each entry against the few; `+` makes `listed` a test of the row instead.
  const and: Expression<SqlBool>[] = [options.byKey ? sql<SqlBool>`+f.listed = 1` : eb('f.listed', '=', 1)];
  const types = filters.mediaTypes;
  // One type is an equality, so asset_facts_type_time serves the order; several are a plain filter.
  if (types && types.length === 1) and.push(eb('f.media_type', '=', types[0]!));
  else if (types) and.push(eb('f.media_type', 'in', [...types]));
  if (filters.camera?.match === 'exact') and.push(eb('f.camera_key', '=', filters.camera.name.toLowerCase()));
  else if (filters.camera) {
    const escaped = filters.camera.name.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`);
    and.push(sql<SqlBool>`f.camera_key like ${`%${escaped}%`} escape '\\'`);
  }
  if (filters.takenFrom || filters.takenTo) {
    // A range of the sort time itself (asset_facts_time), limited to times that came from metadata.
    and.push(eb('f.taken_day', 'is not', null));
    if (filters.takenFrom) and.push(eb('f.sort_ms', '>=', dayStartMs(filters.takenFrom)));
    if (filters.takenTo) and.push(eb('f.sort_ms', '<', dayStartMs(filters.takenTo) + DAY_MS));
  }
  if (options.withLocation && filters.pathGlob) and.push(locationMatches(db, eb, filters));
  else if (options.withLocation && filters.source) and.push(hasMark(eb, sourceMark(filters.source.id)));
  // A done item of the step in any run is the mark `step:<step>` (written with the completion).
  if (filters.missingStep) and.push(eb.not(hasMark(eb, stepMark(filters.missingStep))));
  if (filters.failedInRun) {
    // The run's failures, read once (work_items_claim_order: run_id, status), then each row probed
    // against them: a per-row EXISTS would scan the run's failures again for every row.
    and.push(
      eb(
        'f.asset_id',
        'in',
        eb
          .selectFrom('work_items as w')
          .select('w.asset_id')
          .where('w.run_id', '=', filters.failedInRun)
          .where('w.status', '=', 'failed'),
      ),
    );
  }
  // An artifact of the kind (any policy) is the mark `kind:<kind>`; more than one present location is `dup`.
  if (filters.has) and.push(hasMark(eb, kindMark(filters.has)));
  if (filters.lacks) and.push(eb.not(hasMark(eb, kindMark(filters.lacks))));
  if (filters.duplicates) and.push(hasMark(eb, DUPLICATE_MARK));
  and.push(...relationConditions(eb, filters));
  return eb.and(and);
}
