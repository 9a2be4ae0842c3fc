import { sql, type Kysely } from 'kysely';
import { dialectOf } from '../dialect.js';
import type { Database } from '../schema.js';

// Landed once merged: never edit this file; add a new numbered migration instead.
/**
 * The slow listing filters served by indexes (issue 17). Source, duplicates, has/lacks an artifact kind
 * and missing a step were answered by probing locations, artifacts or work items once per listed asset,
 * so their totals cost a probe per asset (1-8 s at 200,000). `asset_marks` holds one row per (asset,
 * mark) with a copy of the asset's `listed`, `sort_ms` and `month` (asset_marks_repository.ts keeps them
 * in the transactions that change them):
 * - asset_marks_time (mark, listed, sort_ms, asset_id): a filtered page in time order, and its total;
 * - asset_marks_month (mark, listed, month): the filtered date headers, one grouped query;
 * - the primary key (asset_id, mark): the per-row probe when another index leads (lacks, missing, two
 *   filters), and the writes by asset.
 * locations_path_lower (lower(path), in byte order): the literal prefix of a path glob as an index
 * range on both databases; PostgreSQL's glob is a regular expression, which no b-tree can serve alone.
 * Filled here from locations, artifacts and done work items.
 */
export async function up(raw: Kysely<unknown>): Promise<void> {
  const db = raw as unknown as Kysely<Database>;
  const sqlite = dialectOf(db).name === 'sqlite';
  await raw.schema
    .createTable('asset_marks')
    .addColumn('asset_id', 'text', (c) => c.notNull().references('assets.id'))
    .addColumn('mark', 'text', (c) => c.notNull())
    .addColumn('listed', 'bigint', (c) => c.notNull())
    .addColumn('sort_ms', 'bigint', (c) => c.notNull())
    .addColumn('month', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('asset_marks_pkey', ['asset_id', 'mark'])
    // SQLite: the primary key is the table (no rowid b-tree beside it): one b-tree less per mark written,
    // which the catalog's first pass writes once per file.
    .$call((table) => (sqlite ? table.modifyEnd(sql`without rowid`) : table))
    .execute();
  await raw.schema
    .createIndex('asset_marks_time')
    .on('asset_marks')
    .columns(['mark', 'listed', 'sort_ms', 'asset_id'])
    .execute();
  await raw.schema
    .createIndex('asset_marks_month')
    .on('asset_marks')
    .columns(['mark', 'listed', 'month'])
    .execute();
  // Byte order on both: SQLite compares text with memcmp; PostgreSQL needs the "C" collation for it.
  const lowered = sqlite ? sql`(lower(path))` : sql`(lower(path) collate "C")`;
  await sql`create index locations_path_lower on locations ${lowered}`.execute(db);

  const withFacts = (marks: ReturnType<typeof sql>) => sql`
    insert into asset_marks (asset_id, mark, listed, sort_ms, month)
    select m.asset_id, m.mark, f.listed, f.sort_ms, f.month
    from (${marks}) as m inner join asset_facts f on f.asset_id = m.asset_id`;
  await withFacts(
    sql`select distinct asset_id, 'source:' || cast(source_id as text) as mark from locations`,
  ).execute(db);
  await withFacts(
    sql`select asset_id, 'dup' as mark from locations where status = 'present'
        group by asset_id having count(*) > 1`,
  ).execute(db);
  await withFacts(sql`select distinct asset_id, 'kind:' || kind as mark from artifacts`).execute(db);
  await withFacts(
    sql`select distinct asset_id, 'step:' || step as mark from work_items where status = 'done'`,
  ).execute(db);
}
