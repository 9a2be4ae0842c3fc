import fs from 'node:fs';
import path from 'node:path';
import { CompiledQuery, type KyselyPlugin } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { insertSyntheticCatalog } from '../../scripts/bench/synthetic-rows.mjs';
import { initHome, type Home } from '../../src/home/home.js';
import { factsRowOf } from '../../src/store/asset-facts-repository.js';
import type { Db } from '../../src/store/database.js';
import { timePage } from '../../src/store/listing-repository.js';
import { membersOfFolders, membersOfGroups } from '../../src/store/relations-repository.js';
import { mediaWithPrefix } from '../../src/store/sidecars-repository.js';
import { tempDir } from '../helpers/cli.js';
import { describeEachDialect, type TestDialect } from '../helpers/postgres.js';

/**
 * The path-prefix queries (a Google Takeout JSON whose name was cut short names the start of its photo's
 * name; a folder group `dir/stem.` of the relation index) read an index range on both databases: on
 * PostgreSQL locations_source_path_pattern (source_id, path text_pattern_ops, migration 0013), which a
 * LIKE prefix can use under any database collation; on SQLite the unique (source_id, path) index as a
 * range. Before 0013 PostgreSQL compared substr(path) on every location of the source. The plans are
 * printed, and the answers checked against a filter of every path.
 */

const COUNT = 5_000;

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

describeEachDialect('path-prefix queries read an index range', (dialect: TestDialect) => {
  let home: Home;
  let cleanup: () => void;
  let source: { id: number; name: string };
  let paths: string[];

  beforeAll(async () => {
    const dir = tempDir('archivist-prefix-');
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
    await insertSyntheticCatalog(home.db, { source, count: COUNT, factsRowOf });
    if (dialect.name === 'postgres') await home.db.executeQuery(CompiledQuery.raw('vacuum analyze'));
    paths = (await home.db.selectFrom('locations').select('path').execute()).map((r) => r.path);
  }, 240_000);
  afterAll(async () => {
    await home?.close();
    cleanup?.();
  });

  /** The plans of the `count` queries `call` sends, one after the other. */
  async function planOf(call: (db: Db) => Promise<unknown>, count = 1): Promise<string> {
    const { db, queries } = capturing(home.db);
    await call(db);
    expect(queries).toHaveLength(count);
    const explain = dialect.name === 'sqlite' ? 'explain query plan ' : 'explain ';
    const plans: string[] = [];
    for (const query of queries) {
      const result = await home.db.executeQuery<Record<string, unknown>>(
        CompiledQuery.raw(explain + query.sql, [...query.parameters]),
      );
      plans.push(
        result.rows.map((r) => String(dialect.name === 'sqlite' ? r.detail : r['QUERY PLAN'])).join('\n'),
      );
    }
    return plans.join('\n');
  }

  const rangeIndex = () =>
    dialect.name === 'postgres' ? 'locations_source_path_pattern' : 'sqlite_autoindex_locations_1';

  it('the cut Takeout name: the media files whose path starts with it', async () => {
    const target = paths[1234]!;
    const prefix = target.slice(0, target.length - 6);
    const plan = await planOf((db) => mediaWithPrefix(db, source.id, prefix));
    console.log(`${dialect.name} plan of the Takeout prefix query:\n${plan}`);
    expect(plan).toContain(rangeIndex());
    if (dialect.name === 'postgres') expect(plan).not.toMatch(/Seq Scan on locations/);
    else expect(plan).toMatch(/path>\? AND path<\?/);
    const found = (await mediaWithPrefix(home.db, source.id, prefix)).map((m) => m.path).sort();
    expect(found).toEqual(paths.filter((p) => p.startsWith(prefix)).sort());
    expect(found).toContain(target);
    // A LIKE wildcard in a name means itself.
    expect(await mediaWithPrefix(home.db, source.id, `${prefix.slice(0, 4)}%`)).toEqual([]);
  });

  it('folder groups of the relation index, several in one statement', async () => {
    const targets = [paths[42]!, paths[4242]!];
    const keys = targets.map((t) => t.slice(0, t.lastIndexOf('.')));
    // Four: the plugin is shown the UNION ALL's parts as it is built, as well as the statement.
    const plan = await planOf((db) => membersOfGroups(db, source.id, keys), 4);
    console.log(`${dialect.name} plan of two folder groups:\n${plan}`);
    expect(plan).toContain(rangeIndex());
    if (dialect.name === 'postgres') expect(plan).not.toMatch(/Seq Scan on locations/);
    else expect(plan).toMatch(/path>\? AND path<\?/);
    const found = await membersOfGroups(home.db, source.id, keys);
    expect(found.map((m) => m.path).sort()).toEqual([...targets].sort());
  });

  it('the catalog’s pass reads a batch of folders from locations_source_dir, not the source', async () => {
    const dirs = [...new Set(paths.map((p) => p.slice(0, p.lastIndexOf('/'))))].slice(0, 3);
    const plan = await planOf((db) => membersOfFolders(db, source.id, dirs));
    if (dialect.name === 'sqlite') expect(plan).toContain('locations_source_dir (source_id=? AND dir=?)');
    else expect(plan).not.toMatch(/Seq Scan on locations/);
    const found = (await membersOfFolders(home.db, source.id, dirs)).map((m) => m.path).sort();
    expect(found).toEqual(paths.filter((p) => dirs.includes(p.slice(0, p.lastIndexOf('/')))).sort());
  });

  it('folding pairs in the grid probes asset_relations_related per row', async () => {
    if (dialect.name !== 'sqlite') return; // an empty table: PostgreSQL rightly hashes it instead
    const plan = await planOf((db) => timePage(db, { foldPairs: true }, { sort: 'newest', limit: 100 }));
    expect(plan).toContain('asset_facts_time');
    expect(plan).toContain('asset_relations_related');
    expect(plan).not.toMatch(/TEMP B-TREE FOR ORDER BY/);
  });
});
