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

  it('source, path glob, has or lacks an artifact kind, missing a step, failed in a run, duplicates', async () => {
    if (dialect.name === 'sqlite')
      await expectTimePage({ source, pathGlob: '2013/*' }, [
        'asset_facts_time',
        'locations_asset_source_path',
      ]);
    else {
      // A glob is a regular expression on PostgreSQL, no index range: it reads the source's locations
      // that match, then the facts of each by primary key, and sorts what matched (docs/listings.md).
      const [plan] = await plansOf((db) =>
        timePage(db, { source, pathGlob: '2013/*' }, { sort: 'newest', limit: 100 }),
      );
      expect(plan).toContain('asset_facts_pkey');
    }
    await expectTimePage({ source }, ['asset_facts_time', 'locations_asset_source_path']);
    await expectTimePage({ has: 'thumbnail' }, ['asset_facts_time', 'artifacts_kind_asset']);
    await expectTimePage({ lacks: 'thumbnail' }, ['asset_facts_time', 'artifacts_kind_asset']);
    await expectTimePage({ missingStep: 'thumbnail' }, ['asset_facts_time', 'work_items_asset_step']);
    const [failed] = await plansOf((db) =>
      timePage(db, { failedInRun: runId }, { sort: 'newest', limit: 100 }),
    );
    // The run's failures come from its index; on SQLite each row of the time index is probed against
    // them. PostgreSQL picks by size (at 20,000 assets it hashes them against the table).
    expect(failed).toContain('work_items_claim_order');
    if (dialect.name === 'sqlite') expect(failed).toContain('asset_facts_time');
    await expectTimePage({ duplicates: true }, ['asset_facts_time', 'locations_asset_source_path']);
  });

  it('the date headers: one grouped query over the month index', async () => {
    const [all] = await plansOf((db) => monthCounts(db, {}, 'newest'));
    expect(all).toContain('asset_facts_month');
    const [videos] = await plansOf((db) => monthCounts(db, { mediaTypes: ['video'] }, 'newest'));
    expect(videos).toContain('asset_facts_type_month');
    const [count] = await plansOf((db) => countListed(db, {}));
    expect(count).toMatch(/asset_facts_/);
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
