import { sql, type ExpressionBuilder, type Expression, type SqlBool } from 'kysely';
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

/** Does an asset have a location that satisfies the source and path filters (locations_asset_source_path). */
function locationMatches(db: Db, eb: Eb, filters: ListingFilters): Expression<SqlBool> {
  let locations = eb.selectFrom('locations as l').select('l.id').whereRef('l.asset_id', '=', 'f.asset_id');
  if (filters.source) locations = locations.where('l.source_id', '=', filters.source.id);
  if (filters.pathGlob)
    locations = locations.where(dialectOf(db).pathMatchesGlob(sql.ref('l.path'), filters.pathGlob));
  return eb.exists(locations);
}

/**
 * The conditions on `f` for these filters. `withLocation`: the source and path filters are checked here
 * (a time order); a path order reads locations itself and checks them on the location it lists.
 */
export function factsConditions(
  db: Db,
  eb: Eb,
  filters: ListingFilters,
  options: { withLocation: boolean },
): Expression<SqlBool> {
  const and: Expression<SqlBool>[] = [eb('f.listed', '=', 1)];
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
  if (options.withLocation && (filters.source || filters.pathGlob))
    and.push(locationMatches(db, eb, filters));
  if (filters.missingStep) {
    // work_items_asset_step (asset_id, step, status)
    and.push(
      eb.not(
        eb.exists(
          eb
            .selectFrom('work_items as w')
            .select('w.id')
            .whereRef('w.asset_id', '=', 'f.asset_id')
            .where('w.step', '=', filters.missingStep)
            .where('w.status', '=', 'done'),
        ),
      ),
    );
  }
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
  for (const [kind, present] of [
    [filters.has, true],
    [filters.lacks, false],
  ] as const) {
    if (!kind) continue;
    // artifacts_kind_asset (kind, asset_id)
    const having = eb.exists(
      eb
        .selectFrom('artifacts as a')
        .select('a.id')
        .where('a.kind', '=', kind)
        .whereRef('a.asset_id', '=', 'f.asset_id'),
    );
    and.push(present ? having : eb.not(having));
  }
  if (filters.duplicates) {
    and.push(
      eb(
        eb
          .selectFrom('locations as d')
          .select(sql<number>`count(*)`.as('n'))
          .whereRef('d.asset_id', '=', 'f.asset_id')
          .where('d.status', '=', 'present'),
        '>',
        1,
      ),
    );
  }
  and.push(...relationConditions(eb, filters));
  return eb.and(and);
}
