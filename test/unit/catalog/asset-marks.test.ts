import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { catalogSource } from '../../../src/catalog/catalog-source.js';
import { makeJunkFilter } from '../../../src/catalog/junk.js';
import { addSource } from '../../../src/catalog/sources.js';
import { initHome, type Home } from '../../../src/home/home.js';
import { addMarks, kindMark } from '../../../src/store/asset-marks-repository.js';
import { deleteArtifactRecords } from '../../../src/store/artifacts-repository.js';
import type { ListingFilters } from '../../../src/store/listing-filters.js';
import { countListed, monthCounts, timePage } from '../../../src/store/listing-repository.js';
import type { SourceRow } from '../../../src/store/schema.js';
import { tempDir } from '../../helpers/cli.js';
import { describeEachDialect } from '../../helpers/postgres.js';

/**
 * The listings' marks (migration 0014) follow what changes them, in its transaction: the catalog's copies,
 * deletions and second source (duplicates, source), and gc's deletion of an artifact (has a kind). Each
 * filter is checked three ways: its total, its page, its date headers, against what the files say.
 */

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

describeEachDialect('the marks behind the source, duplicates and artifact-kind filters', (dialect) => {
  it('follow copies, deletions, a second source and gc', async () => {
    const { dir, cleanup } = tempDir('archivist-marks-');
    cleanups.push(cleanup);
    const write = (root: string, rel: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      fs.writeFileSync(path.join(root, rel), text);
    };
    const one = path.join(dir, 'one');
    const two = path.join(dir, 'two');
    write(one, '2020/a.jpg', 'bytes of a');
    write(one, '2020/b.jpg', 'bytes of b');
    write(one, '2021/a-copy.jpg', 'bytes of a');
    write(one, '2021/c.jpg', 'bytes of c');
    write(two, 'x/c.jpg', 'bytes of c');
    write(two, 'x/d.jpg', 'bytes of d');
    const { home }: { home: Home } = await initHome(path.join(dir, 'home'), {
      databaseUrl: await dialect.newDatabase(),
    });
    cleanups.push(() => void home.close());
    const scan = (source: SourceRow) =>
      catalogSource(home.db, source, { isJunk: makeJunkFilter(), hashConcurrency: 2, batchSize: 2 });
    const first = await addSource(home, 'one', one);
    const second = await addSource(home, 'two', two);
    await scan(first);
    await scan(second);

    const listing = async (filters: ListingFilters) => {
      const page = await timePage(home.db, filters, { sort: 'newest', limit: 100 });
      const months = await monthCounts(home.db, filters, 'newest');
      return {
        total: await countListed(home.db, filters),
        page: page.rows.length,
        months: months.reduce((sum, m) => sum + m.count, 0),
      };
    };
    const three = (n: number) => ({ total: n, page: n, months: n });
    const src = (row: SourceRow) => ({ source: { id: row.id, name: row.name } });

    // a (twice in one), b, c (in both), d: four assets, two duplicates (across sources too).
    expect(await listing({})).toEqual(three(4));
    expect(await listing({ duplicates: true })).toEqual(three(2));
    expect(await listing(src(first))).toEqual(three(3));
    expect(await listing(src(second))).toEqual(three(2));

    // The copy goes: a is no longer a duplicate; c leaves source two (its only file there is gone).
    fs.rmSync(path.join(one, '2021/a-copy.jpg'));
    fs.rmSync(path.join(two, 'x/c.jpg'));
    await scan(first);
    await scan(second);
    expect(await listing({ duplicates: true })).toEqual(three(0));
    // A missing location still counts for its source (as the source filter always has): c is listed.
    expect(await listing(src(second))).toEqual(three(2));
    // The copy comes back at another path: a duplicate again.
    write(one, '2022/a-again.jpg', 'bytes of a');
    await scan(first);
    expect(await listing({ duplicates: true })).toEqual(three(1));

    // An artifact kind: a mark given with an artifact, and taken when gc deletes its last record.
    const b = await home.db
      .selectFrom('locations')
      .select('asset_id')
      .where('path', '=', '2020/b.jpg')
      .executeTakeFirstOrThrow();
    const now = new Date().toISOString();
    await home.db
      .insertInto('runs')
      .values({
        id: 'run-b',
        pipeline_name: 'test',
        pipeline_version: 1,
        params_json: '{}',
        tool_versions_json: '{}',
        collection_name: null,
        scope_json: '{}',
        policy: 'sandbox',
        min_free_bytes: 0,
        min_free_spec: '0',
        workers: 1,
        max_attempts: 1,
        item_timeout_ms: 60000,
        force: 0,
        seed: 1,
        status: 'completed',
        host: 'test',
        created_at: now,
        started_at: now,
        finished_at: now,
      } as never)
      .execute();
    // Both in one transaction: each row refers to the other (lineage is mandatory).
    await home.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('artifacts')
        .values({
          id: 'art-b',
          kind: 'thumbnail',
          step: 'thumbnail',
          asset_id: b.asset_id,
          run_id: 'run-b',
          sha256: 'f'.repeat(64),
          size: 1,
          mime: 'image/webp',
          path: 'ff/ff/x.webp',
          cache_key: 'k',
          policy: 'sandbox',
          is_current: 0,
          expires_at: now,
          created_at: now,
        } as never)
        .execute();
      await trx
        .insertInto('lineage')
        .values({
          artifact_id: 'art-b',
          run_id: 'run-b',
          pipeline: 'test@1',
          step: 'thumbnail',
          tool_name: 'test',
          tool_version: '1',
          decoder: null,
          params_json: '{}',
          inputs_json: '[]',
          worker: 'test',
          host: 'test',
          duration_ms: 1,
          created_at: now,
        })
        .execute();
    });
    await addMarks(home.db, [{ assetId: b.asset_id, mark: kindMark('thumbnail') }]);
    expect(await listing({ has: 'thumbnail' })).toEqual(three(1));
    expect(await countListed(home.db, { lacks: 'thumbnail' })).toBe(3);
    await deleteArtifactRecords(home.db, ['art-b']);
    expect(await listing({ has: 'thumbnail' })).toEqual(three(0));
    expect(await countListed(home.db, { lacks: 'thumbnail' })).toBe(4);
  });
});
