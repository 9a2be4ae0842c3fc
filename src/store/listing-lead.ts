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
 * - `few`: a run's failures (work_items_claim_order) or the locations in a path glob's literal range
 *   (locations_path_lower), when they are at most FEW assets: read once, then their facts by primary key
 *   and sorted. More than FEW, and the listing is read in time order with the filter as a row probe.
 * - `mark`: a source, duplicates or an artifact kind: asset_marks_time / asset_marks_month, joined to
 *   the facts only when another filter needs them.
 * - `facts`: the asset_facts indexes, every other filter a probe per row (listing-filters.ts).
 */
export type Lead =
  | { kind: 'facts'; filters: ListingFilters }
  | { kind: 'mark'; mark: string; filters: ListingFilters }
  | { kind: 'few'; ids: string[]; filters: ListingFilters }
  | { kind: 'none' };

/** Up to this many assets are read by primary key and sorted: at most about a page's worth of probes. */
export const FEW = 10_000;

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
    let locations = db
      .selectFrom('locations as l')
      .select('l.asset_id')
      .distinct()
      .where(dialectOf(db).pathMatchesGlob(sql.ref('l.path'), filters.pathGlob));
    // The range leads; the source is a test of each location in it (`+`: SQLite would read the source).
    if (filters.source) locations = locations.where(sql<boolean>`+l.source_id = ${filters.source.id}`);
    const ids = await fewIds(locations);
    if (ids) return few(ids, { ...filters, pathGlob: undefined, source: undefined });
  }
  const marked = leadingMark(filters);
  if (marked) return { kind: 'mark', mark: marked.mark, filters: marked.rest };
  return { kind: 'facts', filters };
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

/** The one mark a listing lacks, when it has no other filter (its total is then a difference). */
export function lackingMark(filters: ListingFilters): string | null {
  const { lacks, missingStep, ...rest } = filters;
  if (!isUnfiltered(rest) || (lacks && missingStep)) return null;
  if (lacks) return kindMark(lacks);
  if (missingStep) return stepMark(missingStep);
  return null;
}

/** How many listed assets have this mark: a count of one range of asset_marks_time. */
export async function countMarked(db: Db, mark: string): Promise<number> {
  const row = await db
    .selectFrom('asset_marks')
    .select(sql<number>`count(*)`.as('n'))
    .where('mark', '=', mark)
    .where('listed', '=', 1)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
