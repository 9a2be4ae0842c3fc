import { sql, type Kysely, type SelectQueryBuilder } from 'kysely';
import { kindMark, stepMark } from './asset-marks-repository.js';
import type { Db } from './database.js';
import { dialectOf } from './dialect.js';
import { globPrefixRange } from './glob-prefix.js';
import { factsConditions, isUnfiltered, leadingMark, type ListingFilters } from './listing-filters.js';
import type { Database } from './schema.js';

/**
 * Which index a listing is read from (issue 17), so that a page, its total and its date headers cost
 * what they return rather than a probe per listed asset:
 * - `few`: a run's failures (work_items_claim_order), when they are at most FEW assets: read once, then
 *   their facts by primary key and sorted. More than FEW, and the listing is read in time order with the
 *   filter as a row probe.
 * - `range`: the locations in a path glob's literal range (locations_path_asset), when they are at most
 *   RANGE: the facts of their assets by primary key, in one query, sorted. More, and it is a row probe.
 * - `mark`: a source, duplicates or an artifact kind: asset_marks_time / asset_marks_month, joined to
 *   the facts only when another filter needs them.
 * - `facts`: the asset_facts indexes, every other filter a probe per row (listing-filters.ts).
 */
export type Lead =
  | { kind: 'facts'; filters: ListingFilters }
  | { kind: 'mark'; mark: string; filters: ListingFilters }
  | { kind: 'few'; ids: string[]; filters: ListingFilters }
  | {
      kind: 'range';
      glob: string;
      source: ListingFilters['source'];
      filters: ListingFilters;
    }
  | { kind: 'none' };

/** Up to this many assets are read by primary key and sorted: at most about a page's worth of probes. */
export const FEW = 10_000;

/**
 * Up to this many locations in a path glob's range, its assets are read by primary key (in the database,
 * from the range itself) and sorted: 4 % of a million-asset archive (a year's folder) is 40,000. At a
 * million assets those are random reads (1.3-1.9 s for 40,000 on the loaded bench machine); walking the
 * time index instead and testing each entry against the range's set measured no better (0.8 s against
 * 0.34 s for a folder of the older years, newest first).
 */
export const RANGE = 100_000;

type LeadScope = Database & { f: Database['asset_facts']; m: Database['asset_marks'] };
export type LeadQuery = SelectQueryBuilder<LeadScope, 'f' | 'm', object>;

/** The distinct asset ids a query gives, when there are at most FEW of them. */
async function fewIds(query: SelectQueryBuilder<Database, never, { asset_id: string }>) {
  const rows = await query.limit(FEW + 1).execute();
  return rows.length > FEW ? null : rows.map((r) => r.asset_id);
}

export async function leadOf(db: Db, filters: ListingFilters): Promise<Lead> {
  if (filters.failedInRun) {
    const ids = await fewIds(
      db
        .selectFrom('work_items')
        .select('asset_id')
        .distinct()
        .where('run_id', '=', filters.failedInRun)
        .where('status', '=', 'failed'),
    );
    if (ids) return few(ids, { ...filters, failedInRun: undefined });
  }
  if (filters.pathGlob && globPrefixRange(filters.pathGlob.toLowerCase())) {
    // The glob's literal range of locations_path_asset, counted up to RANGE locations (the index alone):
    // up to that many, the listing is those locations' assets, sorted; more, and it is dense enough that
    // the time order with a probe per row finds a page soon.
    const inRange = globLocations(db, filters.pathGlob, filters.source).select(sql<number>`1`.as('one'));
    const counted = await db
      .selectFrom(inRange.limit(RANGE + 1).as('r'))
      .select(sql<number>`count(*)`.as('n'))
      .executeTakeFirstOrThrow();
    if (Number(counted.n) === 0) return { kind: 'none' };
    if (Number(counted.n) <= RANGE)
      return {
        kind: 'range',
        glob: filters.pathGlob,
        source: filters.source,
        filters: { ...filters, pathGlob: undefined, source: undefined },
      };
  }
  const marked = leadingMark(filters);
  if (marked) return { kind: 'mark', mark: marked.mark, filters: marked.rest };
  return { kind: 'facts', filters };
}

/**
 * The locations a path glob (and a source) accepts, from the glob's literal range of
 * locations_path_asset (lower(path), asset_id): the index alone, the glob tested on its lowered path.
 */
function globLocations(db: Db, glob: string, source: ListingFilters['source']) {
  let locations = db
    .selectFrom('locations as l')
    .where(dialectOf(db).pathMatchesGlob(sql.ref('l.path'), glob));
  // The range leads; the source is a test of each location in it (`+`: SQLite would read the source).
  if (source) locations = locations.where(sql<boolean>`+l.source_id = ${source.id}`);
  return locations;
}

/**
 * The total of a path glob alone: the distinct assets of its range, from locations_path_asset alone (an
 * asset with a location is listed: the catalog writes both in one transaction), no facts read.
 */
export async function countRange(db: Db, lead: Extract<Lead, { kind: 'range' }>): Promise<number | null> {
  if (!isUnfiltered(lead.filters)) return null;
  const row = await globLocations(db, lead.glob, lead.source)
    .select(sql<number>`count(distinct l.asset_id)`.as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

function few(ids: string[], filters: ListingFilters): Lead {
  return ids.length === 0 ? { kind: 'none' } : { kind: 'few', ids, filters };
}

/** The listing's rows as a query to select from (`f` the facts, `m` the mark when a mark leads). */
export function leadQuery(db: Db, lead: Exclude<Lead, { kind: 'none' }>): LeadQuery {
  const scoped = db as unknown as Kysely<LeadScope>;
  const conditions =
    (filters: ListingFilters, byKey = false) =>
    (eb: Parameters<typeof factsConditions>[1]) =>
      factsConditions(db, eb, filters, { withLocation: true, byKey });
  switch (lead.kind) {
    case 'facts':
      return scoped.selectFrom('asset_facts as f').where(conditions(lead.filters) as never);
    case 'few':
      return scoped
        .selectFrom('asset_facts as f')
        .where(dialectOf(db).inValues(sql.ref('f.asset_id'), lead.ids))
        .where(conditions(lead.filters, true) as never);
    case 'range':
      return scoped
        .selectFrom('asset_facts as f')
        .where('f.asset_id', 'in', globLocations(db, lead.glob, lead.source).select('l.asset_id') as never)
        .where(conditions(lead.filters, true) as never);
    case 'mark': {
      const marks = scoped
        .selectFrom('asset_marks as m')
        .where('m.mark', '=', lead.mark)
        .where('m.listed', '=', 1) as LeadQuery;
      // Alone, the mark's own index answers (its copies of the sort time and month); joined otherwise.
      if (isUnfiltered(lead.filters)) return marks;
      return marks
        .innerJoin('asset_facts as f', 'f.asset_id', 'm.asset_id')
        .where(conditions(lead.filters) as never);
    }
  }
}

/**
 * The one mark a listing lacks, when nothing else filters it but media types (`missing=` brings images
 * and videos): its total is then a difference of two counts, never a probe per listed asset.
 */
export function lackingMark(filters: ListingFilters): { mark: string; rest: ListingFilters } | null {
  const { lacks, missingStep, mediaTypes, ...others } = filters;
  if (!isUnfiltered(others) || (lacks && missingStep)) return null;
  const rest = { mediaTypes };
  if (lacks) return { mark: kindMark(lacks), rest };
  if (missingStep) return { mark: stepMark(missingStep), rest };
  return null;
}

/**
 * How many listed assets (of these media types, if given) have this mark: a count of one range of
 * asset_marks_time, or with media types, that range's assets' facts by primary key (a probe per marked
 * asset, not per listed one).
 */
export async function countMarked(db: Db, mark: string, mediaTypes?: readonly string[]): Promise<number> {
  let query = db
    .selectFrom('asset_marks as m')
    .select(sql<number>`count(*)`.as('n'))
    .where('m.mark', '=', mark)
    .where('m.listed', '=', 1);
  if (mediaTypes)
    query = query
      .innerJoin('asset_facts as f', 'f.asset_id', 'm.asset_id')
      .where('f.media_type', 'in', [...mediaTypes] as never);
  const row = await query.executeTakeFirstOrThrow();
  return Number(row.n);
}
