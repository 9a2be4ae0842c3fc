import { sql, type RawBuilder } from 'kysely';
import type { Db } from './database.js';
import { dialectOf } from './dialect.js';
import { factsConditions, isUnfiltered, type ListingFilters } from './listing-filters.js';
import { countMarked, countRange, lackingMark, leadOf, leadQuery } from './listing-lead.js';
import type { AssetFactsRow } from './schema.js';

/**
 * Every asset listing of the API and the CLI, as keyset-paginated queries over indexes (issue 17): a page
 * reads its rows in index order from where the last one ended, so the first page and the ten-thousandth
 * cost the same, and nothing builds a structure of the whole catalog. The index behind each query is
 * named in docs/listings.md, and test/unit/listing-plans.test.ts shows each plan on both databases.
 */

export type TimeSort = 'newest' | 'oldest';

/** Where a time-ordered page continues: after this (sort time, asset id). */
export interface TimeCursor {
  ms: number;
  id: string;
}

/** Where a path-ordered page continues: after this location. */
export interface PathCursor {
  source: string;
  path: string;
}

export interface TimePage {
  rows: { id: string; ms: number; month: string }[];
  next: TimeCursor | null;
}

function monthBoundsMs(month: string): { start: number; end: number } {
  const [year, m] = month.split('-').map(Number) as [number, number];
  return { start: Date.UTC(year, m - 1, 1), end: Date.UTC(year, m, 1) };
}

/**
 * A page of a time order: newest or oldest first by the wall-clock sort time, then by asset id. Read from
 * the index that leads the listing (listing-lead.ts): asset_facts_time (or asset_facts_type_time /
 * asset_facts_camera_time for one type or camera), asset_marks_time for a source, duplicates or an
 * artifact kind, or a few assets by primary key (a run's failures, a path glob's range), read backwards
 * for newest first. `month` starts the page at that month (the grid's jump to a year or month); `offset`
 * skips rows after the start, at most a month's worth when the grid asks.
 */
export async function timePage(
  db: Db,
  filters: ListingFilters,
  page: { sort: TimeSort; limit: number; after?: TimeCursor; month?: string; offset?: number },
): Promise<TimePage> {
  const newest = page.sort === 'newest';
  const direction = newest ? 'desc' : 'asc';
  const lead = await leadOf(db, filters);
  if (lead.kind === 'none') return { rows: [], next: null };
  // The sort columns of the leading table: a mark's copy, so its index gives the order.
  const t = lead.kind === 'mark' ? 'm' : 'f';
  const ms = sql.ref<number>(`${t}.sort_ms`);
  const id = sql.ref<string>(`${t}.asset_id`);
  let query = leadQuery(db, lead).select([
    id.as('asset_id'),
    ms.as('sort_ms'),
    sql.ref<string>(`${t}.month`).as('month'),
  ]);
  if (page.after) {
    const { ms: at, id: was } = page.after;
    query = query.where(
      newest
        ? sql<boolean>`(${ms}, ${id}) < (${at}, ${was})`
        : sql<boolean>`(${ms}, ${id}) > (${at}, ${was})`,
    );
  } else if (page.month) {
    const { start, end } = monthBoundsMs(page.month);
    query = query.where(newest ? sql<boolean>`${ms} < ${end}` : sql<boolean>`${ms} >= ${start}`);
  }
  query = query
    // A few assets by primary key are sorted: `+ 0` keeps the planners from walking the time index for
    // the order and testing each of its rows against the few (both would, at 20,000 assets).
    .orderBy(lead.kind === 'few' || lead.kind === 'range' ? sql<number>`${ms} + 0` : ms, direction)
    .orderBy(id, direction)
    .limit(page.limit + 1);
  if (page.offset) query = query.offset(page.offset);
  const rows = (await query.execute()) as { asset_id: string; sort_ms: number; month: string }[];
  const more = rows.length > page.limit;
  const shown = rows
    .slice(0, page.limit)
    .map((r) => ({ id: r.asset_id, ms: Number(r.sort_ms), month: r.month }));
  const last = shown.at(-1);
  return { rows: shown, next: more && last ? { ms: last.ms, id: last.id } : null };
}

/**
 * The date headers of a time order: each month with its count, from asset_facts_month (or
 * asset_facts_type_month), or asset_marks_month for a mark, alone when no other filter needs a row.
 * Where one of those indexes holds the listing as a prefix, the months are found by skip-scan (the next
 * month after the last, one index seek each) and each counted as a range: a grouped query compares every
 * entry's month with the last one's, five times as costly (130 ms against 28 ms at 100,000 assets).
 * Any other filter: one grouped query over the leading index.
 */
export async function monthCounts(
  db: Db,
  filters: ListingFilters,
  sort: TimeSort,
): Promise<{ month: string; count: number }[]> {
  const lead = await leadOf(db, filters);
  if (lead.kind === 'none') return [];
  const scope = monthIndexScope(lead);
  if (scope) return monthsBySkipScan(db, scope, sort);
  const month = sql.ref<string>(lead.kind === 'mark' ? 'm.month' : 'f.month');
  const rows = (await leadQuery(db, lead)
    .select([month.as('month'), sql<number>`count(*)`.as('n')])
    .groupBy(month)
    .orderBy(month, sort === 'newest' ? 'desc' : 'asc')
    .execute()) as { month: string; n: number }[];
  return rows.map((r) => ({ month: r.month, count: Number(r.n) }));
}

/** The month index whose prefix is the whole listing (its table and the prefix's condition), if one is. */
function monthIndexScope(
  lead: Exclude<Awaited<ReturnType<typeof leadOf>>, { kind: 'none' }>,
): { table: RawBuilder<unknown>; where: RawBuilder<unknown> } | null {
  if (lead.kind === 'mark' && isUnfiltered(lead.filters))
    return { table: sql`asset_marks`, where: sql`mark = ${lead.mark} and listed = 1` };
  if (lead.kind !== 'facts') return null;
  const { mediaTypes, ...rest } = lead.filters;
  if (!isUnfiltered(rest)) return null;
  if (mediaTypes === undefined) return { table: sql`asset_facts`, where: sql`listed = 1` };
  if (mediaTypes.length === 1)
    return { table: sql`asset_facts`, where: sql`listed = 1 and media_type = ${mediaTypes[0]}` };
  return null;
}

async function monthsBySkipScan(
  db: Db,
  { table, where }: { table: RawBuilder<unknown>; where: RawBuilder<unknown> },
  sort: TimeSort,
): Promise<{ month: string; count: number }[]> {
  const order = sort === 'newest' ? sql`desc` : sql`asc`;
  const { rows } = await sql<{ month: string; n: number }>`
    with recursive months(m) as (
      select (select min(month) from ${table} where ${where})
      union all
      select (select min(month) from ${table} where ${where} and month > months.m)
      from months where months.m is not null
    )
    select m as month, (select count(*) from ${table} where ${where} and month = months.m) as n
    from months where m is not null
    order by m ${order}`.execute(db);
  return rows.map((r) => ({ month: r.month, count: Number(r.n) }));
}

/**
 * How many assets a listing has, whatever its order (the same set in time and path order): a count over
 * the leading index. A listing that lacks one mark and has no other filter but media types is every
 * listed asset (of those types) less those with the mark: two counts, where counting the lacking ones
 * would probe every asset (`missing=` at 200,000 assets: 5.5 s).
 */
export async function countListed(db: Db, filters: ListingFilters): Promise<number> {
  const lacking = lackingMark(filters);
  if (lacking) {
    const types = lacking.rest.mediaTypes;
    const [all, marked] = await Promise.all([
      countListed(db, lacking.rest),
      countMarked(db, lacking.mark, types),
    ]);
    return all - marked;
  }
  const lead = await leadOf(db, filters);
  if (lead.kind === 'none') return 0;
  const ranged = lead.kind === 'range' ? await countRange(db, lead) : null;
  if (ranged !== null) return ranged;
  const row = await leadQuery(db, lead)
    .select(sql<number>`count(*)`.as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Sources in the order of `source/path` keys (a name that is a prefix of another sorts by what follows
 * it, `/` included, as the keys do): a path order lists source after source.
 */
async function sourcesInKeyOrder(db: Db, only?: { id: number; name: string }) {
  const sources = only ? [only] : await db.selectFrom('sources').select(['id', 'name']).execute();
  return sources.sort((a, b) => (`${a.name}/` < `${b.name}/` ? -1 : `${a.name}/` > `${b.name}/` ? 1 : 0));
}

export interface PathPage {
  rows: { id: string; source: string; path: string }[];
  next: PathCursor | null;
}

/**
 * A page in `source/path` order: each asset once, at its first matching location. Read per source from
 * the unique (source_id, path) index after the cursor; an asset at several locations is listed at the
 * first one (a probe of locations_asset_source_path per row says whether another comes before).
 */
export async function pathPage(
  db: Db,
  filters: ListingFilters,
  page: { limit: number; after?: PathCursor; offset?: number },
): Promise<PathPage> {
  const rows: PathPage['rows'] = [];
  let skip = page.offset ?? 0;
  let started = page.after === undefined;
  for (const source of await sourcesInKeyOrder(db, filters.source)) {
    if (!started && `${source.name}/` < `${page.after!.source}/`) continue;
    const from = !started && source.name === page.after!.source ? page.after!.path : undefined;
    started = true;
    const want = page.limit + 1 - rows.length;
    const found = await pathRows(db, filters, source, { after: from, limit: want, offset: skip });
    if (skip > 0 && found.length === 0) {
      // The offset is beyond this source: what it had counts toward the offset, then the next one.
      skip = Math.max(0, skip - (await pathCount(db, filters, source, from)));
      continue;
    }
    skip = 0;
    rows.push(...found.map((r) => ({ id: r.asset_id, source: source.name, path: r.path })));
    if (rows.length > page.limit) break;
  }
  const more = rows.length > page.limit;
  const shown = rows.slice(0, page.limit);
  const last = shown.at(-1);
  return { rows: shown, next: more && last ? { source: last.source, path: last.path } : null };
}

function pathQuery(db: Db, filters: ListingFilters, source: { id: number; name: string }, after?: string) {
  const glob = filters.pathGlob;
  let query = db
    .selectFrom('locations as l')
    .innerJoin('asset_facts as f', 'f.asset_id', 'l.asset_id')
    .where('l.source_id', '=', source.id)
    .where((eb) => factsConditions(db, eb, filters, { withLocation: false }))
    .where((eb) => {
      // No other location of the asset that the filters accept comes first in `source/path` order.
      let earlier = eb
        .selectFrom('locations as l2')
        .innerJoin('sources as s2', 's2.id', 'l2.source_id')
        .select('l2.id')
        .whereRef('l2.asset_id', '=', 'l.asset_id')
        .where(sql<boolean>`s2.name || '/' || l2.path < ${`${source.name}/`} || l.path`);
      if (filters.source) earlier = earlier.where('l2.source_id', '=', filters.source.id);
      if (glob) earlier = earlier.where(dialectOf(db).pathMatchesGlob(sql.ref('l2.path'), glob));
      return eb.not(eb.exists(earlier));
    });
  if (glob) query = query.where(dialectOf(db).pathMatchesGlob(sql.ref('l.path'), glob));
  if (after !== undefined) query = query.where('l.path', '>', after);
  return query;
}

async function pathRows(
  db: Db,
  filters: ListingFilters,
  source: { id: number; name: string },
  page: { after?: string; limit: number; offset: number },
) {
  let query = pathQuery(db, filters, source, page.after)
    .select(['l.asset_id', 'l.path'])
    .orderBy('l.path')
    .limit(page.limit);
  if (page.offset > 0) query = query.offset(page.offset);
  return query.execute();
}

async function pathCount(
  db: Db,
  filters: ListingFilters,
  source: { id: number; name: string },
  after?: string,
): Promise<number> {
  const row = await pathQuery(db, filters, source, after)
    .select(sql<number>`count(*)`.as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The facts rows of these assets: a tile's time, zone and duration. */
export async function factsOfAssets(db: Db, ids: readonly string[]): Promise<Map<string, AssetFactsRow>> {
  const out = new Map<string, AssetFactsRow>();
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await db
      .selectFrom('asset_facts')
      .selectAll()
      .where('asset_id', 'in', ids.slice(i, i + 500))
      .execute();
    for (const row of rows) out.set(row.asset_id, row);
  }
  return out;
}

/** Is this (case-insensitively) the whole name of a camera of the listing? One probe of the index. */
export async function isKnownCamera(db: Db, name: string): Promise<boolean> {
  const row = await db
    .selectFrom('asset_facts')
    .select('asset_id')
    .where('listed', '=', 1)
    .where('camera_key', '=', name.toLowerCase())
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** The cameras the facts name, for the filter's choices (read from asset_facts_camera_time). */
export async function knownCameras(db: Db): Promise<string[]> {
  const rows = await db
    .selectFrom('asset_facts')
    .select('camera_key')
    .distinct()
    .where('listed', '=', 1)
    .where('camera_key', 'is not', null)
    .execute();
  // One spelling per camera, as its facts write it: one probe of the index per camera.
  const names: string[] = [];
  for (const { camera_key: key } of rows) {
    const one = await db
      .selectFrom('asset_facts')
      .select('camera')
      .where('listed', '=', 1)
      .where('camera_key', '=', key)
      .limit(1)
      .executeTakeFirst();
    if (one?.camera) names.push(one.camera);
  }
  return names.sort((a, b) => a.localeCompare(b));
}

/**
 * Changes whenever a catalog pass ran or locations were added: two index lookups (max of a key), so a
 * cached total is never kept across a catalog change.
 */
export async function catalogVersion(db: Db): Promise<string> {
  const row = await db
    .selectFrom('scans')
    .select([
      (eb) => eb.fn.max('scans.id').as('scan'),
      (eb) =>
        eb
          .selectFrom('locations')
          .select((l) => l.fn.max('locations.id').as('m'))
          .as('location'),
    ])
    .executeTakeFirst();
  return `${row?.scan ?? 0}:${row?.location ?? 0}`;
}
