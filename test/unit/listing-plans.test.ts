import fs from 'node:fs';
import path from 'node:path';
import { CompiledQuery, type KyselyPlugin } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { insertSyntheticCatalog } from '../../scripts/bench/synthetic-rows.mjs';
import { initHome, type Home } from '../../src/home/home.js';
import { factsRowOf } from '../../src/store/asset-facts-repository.js';
import type { Db } from '../../src/store/database.js';
import type { ListingFilters } from '../../src/store/listing-filters.js';
import { countListed, monthCounts, pathPage, timePage } from '../../src/store/listing-repository.js';
import { tempDir } from '../helpers/cli.js';
import { describeEachDialect, type TestDialect } from '../helpers/postgres.js';

/**
 * Each listing query's plan (issue 17; the indexes are named in docs/listings.md): on 20,000 synthetic
 * assets, EXPLAIN QUERY PLAN on SQLite (no statistics, as a home has) and EXPLAIN on PostgreSQL (after
 * ANALYZE, as autovacuum does) name the index the query reads, and no time-ordered page sorts.
 */

const COUNT = 20_000;

/** The SQL a listing function sends, captured on its way to the database. */
function capturing(db: Db): { db: Db; queries: CompiledQuery[] } {
  const queries: CompiledQuery[] = [];
  const plugin: KyselyPlugin = {
    transformQuery: ({ node, queryId }) => {
      queries.push(db.getExecutor().compileQuery(node, queryId));
      return node;
    },
    transformResult: ({ result }) => Promise.resolve(result),
  };
  return { db: db.withPlugin(plugin), queries };
}

describeEachDialect('the plan of each listing query', (dialect: TestDialect) => {
  let home: Home;
  let cleanup: () => void;
  let runId: string;
  let source: { id: number; name: string };

  beforeAll(async () => {
    const dir = tempDir('archivist-plans-');
    cleanup = dir.cleanup;
    fs.mkdirSync(path.join(dir.dir, 'archive'));
    ({ home } = await initHome(path.join(dir.dir, 'home'), { databaseUrl: await dialect.newDatabase() }));
    const row = await home.db
      .insertInto('sources')
      .values({
        name: 'synthetic',
        path: path.join(dir.dir, 'archive'),
        created_at: new Date().toISOString(),
      })
      .returning(['id', 'name'])
      .executeTakeFirstOrThrow();
    source = { id: Number(row.id), name: row.name };
    const made = await insertSyntheticCatalog(home.db, {
      source,
      count: COUNT,
      factsRowOf,
      run: { share: 0.5 },
    });
    runId = made.runId!;
    if (dialect.name === 'postgres') await home.db.executeQuery(CompiledQuery.raw('vacuum analyze'));
  }, 240_000);
  afterAll(async () => {
    await home?.close();
    cleanup?.();
  });

  /** The plans of the queries `call` sends, one text per query. */
  async function plansOf(call: (db: Db) => Promise<unknown>): Promise<string[]> {
    const { db, queries } = capturing(home.db);
    await call(db);
    const plans: string[] = [];
    for (const query of queries) {
      const explain = dialect.name === 'sqlite' ? 'explain query plan ' : 'explain ';
      const result = await home.db.executeQuery<Record<string, unknown>>(
        CompiledQuery.raw(explain + query.sql, [...query.parameters]),
      );
      plans.push(
        result.rows.map((r) => String(dialect.name === 'sqlite' ? r.detail : r['QUERY PLAN'])).join('\n'),
      );
    }
    return plans;
  }

  const unique = (table: 'locations') =>
    dialect.name === 'sqlite' ? `sqlite_autoindex_${table}_1` : 'locations_source_path';

  /** A time page reads `index` in order: no sort of the rows it found. */
  async function expectTimePage(filters: ListingFilters, indexes: string[], extra: object = {}) {
    const [plan] = await plansOf((db) => timePage(db, filters, { sort: 'newest', limit: 100, ...extra }));
    for (const index of indexes) expect(plan, plan).toContain(index);
    expect(plan).not.toMatch(/TEMP B-TREE FOR ORDER BY|\bSort\b/);
  }

  it('the grid by time, newest and oldest, from a cursor or a month', async () => {
    await expectTimePage({}, ['asset_facts_time']);
    await expectTimePage({}, ['asset_facts_time'], { after: { ms: Date.UTC(2010, 0, 1), id: 'f' } });
    await expectTimePage({}, ['asset_facts_time'], { month: '2012-06' });
    const [oldest] = await plansOf((db) => timePage(db, {}, { sort: 'oldest', limit: 100 }));
    expect(oldest).toContain('asset_facts_time');
  });

  it('one type, one camera, a capture-day range', async () => {
    await expectTimePage({ mediaTypes: ['video'] }, ['asset_facts_type_time']);
    await expectTimePage({ camera: { name: 'Canon EOS 5D Mark IV', match: 'exact' } }, [
      'asset_facts_camera_time',
    ]);
    await expectTimePage({ takenFrom: '2010-01-01', takenTo: '2012-12-31' }, ['asset_facts_time']);
  });

  // SQLite: asset_marks is WITHOUT ROWID, its primary key is the table.
  const marksKey = () =>
    dialect.name === 'sqlite' ? 'USING PRIMARY KEY (asset_id=? AND mark=?)' : 'asset_marks_pkey';
  const factsKey = () => (dialect.name === 'sqlite' ? 'sqlite_autoindex_asset_facts_1' : 'asset_facts_pkey');

  it('source, duplicates, has an artifact kind: read from asset_marks_time alone, in order', async () => {
    for (const filters of [{ source }, { duplicates: true }, { has: 'thumbnail' }] as ListingFilters[]) {
      // The synthetic catalog has no duplicates: PostgreSQL's statistics say so, and it sorts none.
      if (dialect.name === 'sqlite' || !filters.duplicates)
        await expectTimePage(filters, ['asset_marks_time']);
      const [plan] = await plansOf((db) => timePage(db, filters, { sort: 'newest', limit: 100 }));
      // No other table: the mark carries the sort time.
      expect(plan).not.toMatch(/asset_facts|locations|artifacts/);
    }
    // With another filter the mark still leads, each row's facts by primary key.
    await expectTimePage({ has: 'thumbnail', mediaTypes: ['video'] }, ['asset_marks_time', factsKey()]);
    // Two marks: the rarer leads, the other is a probe of the marks' primary key.
    await expectTimePage({ has: 'thumbnail', source }, ['asset_marks_time', marksKey()]);
  });

  it('lacks an artifact kind, missing a step: the time index, a probe of the marks per row', async () => {
    await expectTimePage({ lacks: 'thumbnail' }, ['asset_facts_time', marksKey()]);
    await expectTimePage({ missingStep: 'thumbnail' }, ['asset_facts_time', marksKey()]);
  });

  it('failed in a run, a path glob: their few assets from their own index, then by primary key', async () => {
    const [failures, page] = await plansOf((db) =>
      timePage(db, { failedInRun: runId }, { sort: 'newest', limit: 100 }),
    );
    // The run's failures: work_items_claim_order (run_id, status, ...) or, on SQLite, the unique
    // (run_id, asset_id, step) index, both a range of the run.
    expect(failures).toMatch(/work_items_claim_order|sqlite_autoindex_work_items_1 \(run_id=\?\)/);
    const fewByKey = (plan: string | undefined) =>
      // PostgreSQL reads a table of 20,000 rows whole rather than probe it 200 times; at scale, the key.
      expect(plan).toMatch(
        dialect.name === 'sqlite' ? factsKey() : /asset_facts_pkey|Seq Scan on asset_facts/,
      );
    fewByKey(page);
    expect(page).not.toContain('asset_facts_time');
    const globPlans = await plansOf((db) =>
      timePage(db, { source, pathGlob: '2013/*' }, { sort: 'newest', limit: 100 }),
    );
    // (A subquery is captured on its own too.) The glob's literal start is a range of
    // locations_path_asset on both databases (PostgreSQL's regular expression alone has none): on SQLite
    // the index alone, the glob tested on its lowered path; PostgreSQL reads the range's rows (it takes
    // no index-only scan of an expression index) with a bitmap, in table order.
    for (const plan of globPlans.filter((p) => /\bl\b|locations/.test(p))) {
      expect(plan).toContain('locations_path_asset');
      if (dialect.name === 'sqlite') expect(plan).toContain('USING COVERING INDEX locations_path_asset');
      else expect(plan).not.toMatch(/Seq Scan on locations/);
    }
    // The page: the range's assets in the same query, their facts by primary key, sorted.
    const globPage = globPlans.at(-1);
    expect(globPage).toContain('locations_path_asset');
    fewByKey(globPage);
    expect(globPage).not.toContain('asset_facts_time');
    const glob = await timePage(home.db, { source, pathGlob: '2013/*' }, { sort: 'newest', limit: 5000 });
    const expected = await home.db
      .selectFrom('locations')
      .select((eb) => eb.fn.count<number>('asset_id').distinct().as('n'))
      .where('path', 'like', '2013/%')
      .executeTakeFirstOrThrow();
    expect(glob.rows.length).toBeGreaterThan(0);
    expect(glob.rows).toHaveLength(Number(expected.n));
    expect(await countListed(home.db, { source, pathGlob: '2013/*' })).toBe(Number(expected.n));
    const globTimes = glob.rows.map((r) => r.ms);
    expect(globTimes).toEqual([...globTimes].sort((a, b) => b - a));
    // A wide range (more than FEW locations): still the range's assets, sorted; its total counted from
    // the range alone, no facts read.
    const wide = { source, pathGlob: '2*' } as ListingFilters;
    const wideCount = await plansOf((db) => countListed(db, wide));
    expect(wideCount.join('\n')).not.toMatch(/asset_facts/);
    const all = await home.db
      .selectFrom('locations')
      .select((eb) => eb.fn.count<number>('asset_id').distinct().as('n'))
      .where('path', 'like', '2%')
      .executeTakeFirstOrThrow();
    expect(Number(all.n)).toBeGreaterThan(10_000);
    expect(await countListed(home.db, wide)).toBe(Number(all.n));
    const widest = await timePage(home.db, wide, { sort: 'newest', limit: 300 });
    const newest = await timePage(home.db, {}, { sort: 'newest', limit: 300 });
    expect(widest.rows).toEqual(newest.rows);
    // A glob with no literal start: the time index, each row's locations probed.
    await expectTimePage({ pathGlob: '*event 3*' }, ['asset_facts_time', 'locations_asset_source_path']);
  });

  it('the totals of the slow filters: index counts, no probe per listed asset', async () => {
    for (const filters of [{ source }, { duplicates: true }, { has: 'thumbnail' }] as ListingFilters[]) {
      const [count] = await plansOf((db) => countListed(db, filters));
      expect(count).toMatch(/asset_marks_(time|month)/);
      expect(count).not.toMatch(/asset_facts|locations|artifacts/);
      const [months] = await plansOf((db) => monthCounts(db, filters, 'newest'));
      expect(months).toContain('asset_marks_month');
    }
    // Lacking: every listed asset less those with the mark, two index counts; `missing=` as the API
    // and the CLI ask it (images and videos) too, the marked ones' facts by primary key.
    for (const filters of [
      { lacks: 'thumbnail' },
      { missingStep: 'thumbnail' },
      { missingStep: 'thumbnail', mediaTypes: ['image', 'video'] },
    ] as ListingFilters[]) {
      const plans = await plansOf((db) => countListed(db, filters));
      expect(plans).toHaveLength(2);
      expect(plans.join('\n')).toMatch(/asset_facts_/);
      expect(plans.join('\n')).toMatch(/asset_marks_(time|month)/);
      expect(plans.join('\n')).not.toMatch(/artifacts|work_items/);
    }
  });

  it('the totals agree with the rows they count', async () => {
    const all = await countListed(home.db, {});
    const has = await countListed(home.db, { has: 'thumbnail' });
    const lacks = await countListed(home.db, { lacks: 'thumbnail' });
    const thumbnails = await home.db
      .selectFrom('artifacts')
      .select((eb) => eb.fn.count<number>('asset_id').distinct().as('n'))
      .where('kind', '=', 'thumbnail')
      .executeTakeFirstOrThrow();
    expect(has).toBe(Number(thumbnails.n));
    expect(has).toBeGreaterThan(0);
    expect(has + lacks).toBe(all);
    // Missing a step among images and videos: the difference agrees with the rows.
    const media = { missingStep: 'thumbnail', mediaTypes: ['image', 'video'] } as ListingFilters;
    const missingMedia = await home.db
      .selectFrom('asset_facts as f')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('f.listed', '=', 1)
      .where('f.media_type', 'in', ['image', 'video'])
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('work_items as w')
              .select('w.asset_id')
              .whereRef('w.asset_id', '=', 'f.asset_id')
              .where('w.step', '=', 'thumbnail')
              .where('w.status', '=', 'done'),
          ),
        ),
      )
      .executeTakeFirstOrThrow();
    expect(Number(missingMedia.n)).toBeGreaterThan(0);
    expect(await countListed(home.db, media)).toBe(Number(missingMedia.n));
    expect(await countListed(home.db, { source })).toBe(all);
    const failed = await home.db
      .selectFrom('work_items')
      .select((eb) => eb.fn.count<number>('asset_id').distinct().as('n'))
      .where('run_id', '=', runId)
      .where('status', '=', 'failed')
      .executeTakeFirstOrThrow();
    expect(await countListed(home.db, { failedInRun: runId })).toBe(Number(failed.n));
    const page = await timePage(home.db, { failedInRun: runId }, { sort: 'newest', limit: 1000 });
    expect(page.rows).toHaveLength(Number(failed.n));
    const times = page.rows.map((r) => r.ms);
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });

  it('the date headers: the month index, month by month (skip-scan), as a grouped query counts', async () => {
    const [all] = await plansOf((db) => monthCounts(db, {}, 'newest'));
    expect(all).toContain('asset_facts_month');
    const [videos] = await plansOf((db) => monthCounts(db, { mediaTypes: ['video'] }, 'newest'));
    expect(videos).toContain('asset_facts_type_month');
    const [count] = await plansOf((db) => countListed(db, {}));
    expect(count).toMatch(/asset_facts_/);
    // The months by skip-scan, each a range count: the same answer as a grouped query of the rows.
    const grouped = async (only?: 'video' | 'thumbnail') => {
      let query = home.db
        .selectFrom('asset_facts as f')
        .select(['f.month', (eb) => eb.fn.countAll<number>().as('n')])
        .where('f.listed', '=', 1)
        .groupBy('f.month')
        .orderBy('f.month', 'desc');
      if (only === 'video') query = query.where('f.media_type', '=', 'video');
      if (only === 'thumbnail')
        query = query.where((eb) =>
          eb.exists(
            eb
              .selectFrom('artifacts as a')
              .select('a.id')
              .whereRef('a.asset_id', '=', 'f.asset_id')
              .where('a.kind', '=', 'thumbnail'),
          ),
        );
      return (await query.execute()).map((r) => ({ month: r.month, count: Number(r.n) }));
    };
    const everything = await monthCounts(home.db, {}, 'newest');
    expect(everything.length).toBeGreaterThan(100);
    expect(everything).toEqual(await grouped());
    expect(await monthCounts(home.db, { mediaTypes: ['video'] }, 'newest')).toEqual(await grouped('video'));
    const oldest = await monthCounts(home.db, { has: 'thumbnail' }, 'oldest');
    const thumbnailed = await grouped('thumbnail');
    expect(oldest.length).toBeGreaterThan(0);
    expect(oldest).toEqual(thumbnailed.reverse());
  });

  it('the path order (API sort=path and the CLI): the unique (source, path) index, per source', async () => {
    const plans = await plansOf((db) =>
      pathPage(db, {}, { limit: 100, after: { source: 'synthetic', path: '2012/' } }),
    );
    const page = plans.find((p) => p.includes(unique('locations')))!;
    expect(page, plans.join('\n---\n')).toContain('locations_asset_source_path');
    expect(page).not.toMatch(/TEMP B-TREE FOR ORDER BY|\bSort\b/);
  });
});
