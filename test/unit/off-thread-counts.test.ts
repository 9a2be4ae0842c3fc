import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { insertSyntheticCatalog } from '../../scripts/bench/synthetic-rows.mjs';
import { initHome, type Home } from '../../src/home/home.js';
import { factsRowOf } from '../../src/store/asset-facts-repository.js';
import type { ListingFilters } from '../../src/store/listing-filters.js';
import { countListed } from '../../src/store/listing-repository.js';
import { REPO_ROOT, tempDir } from '../helpers/cli.js';

/**
 * A SQLite home's stale listing totals are recounted in a thread of their own (src/api/off-thread-counts.ts),
 * so the server's thread goes on answering meanwhile. The thread's entry is the built one (dist/api, as
 * `archivist serve` runs it; `npm test` builds first), on a real SQLite file of 20,000 synthetic assets.
 */

type Counts = {
  count(filters: ListingFilters, inline: () => Promise<number>): Promise<number>;
  close(): Promise<void>;
};

let home: Home;
let cleanup: () => void;
let source: { id: number; name: string };
let counts: Counts;

beforeAll(async () => {
  const dir = tempDir('archivist-counts-');
  cleanup = dir.cleanup;
  fs.mkdirSync(path.join(dir.dir, 'archive'));
  ({ home } = await initHome(path.join(dir.dir, 'home')));
  const row = await home.db
    .insertInto('sources')
    .values({ name: 'synthetic', path: path.join(dir.dir, 'archive'), created_at: new Date().toISOString() })
    .returning(['id', 'name'])
    .executeTakeFirstOrThrow();
  source = { id: Number(row.id), name: row.name };
  await insertSyntheticCatalog(home.db, { source, count: 20_000, factsRowOf, run: { share: 0.5 } });
  const built = path.join(REPO_ROOT, 'dist', 'api', 'off-thread-counts.js');
  const { OffThreadCounts } = (await import(built)) as { OffThreadCounts: new (file: string) => Counts };
  counts = new OffThreadCounts(home.layout.database);
}, 120_000);

afterAll(async () => {
  await counts?.close();
  await home?.close();
  cleanup?.();
});

/**
 * Whether `total` settles while only microtasks run (no turn of the event loop): an inline count does,
 * since better-sqlite3 answers in this thread; a count from another thread cannot, since its answer
 * arrives as a message, which only a turn of the loop delivers.
 */
async function settlesWithoutATurn(total: Promise<number>): Promise<boolean> {
  let settled = false;
  total.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; i < 1000 && !settled; i++) await Promise.resolve();
  const soon = settled;
  await total;
  return soon;
}

it('gives the totals an inline count gives, for every kind of filter', async () => {
  const cases: ListingFilters[] = [
    {},
    { source },
    { pathGlob: '2013/*' },
    { has: 'thumbnail' },
    { lacks: 'thumbnail' },
    { missingStep: 'thumbnail' },
    { mediaTypes: ['image'], duplicates: true },
  ];
  for (const filters of cases) {
    const inline = () => countListed(home.db, filters);
    const expected = await inline();
    let usedInline = false;
    const total = await counts.count(filters, () => ((usedInline = true), inline()));
    expect(total, JSON.stringify(filters)).toBe(expected);
    expect(usedInline).toBe(false);
  }
  expect(await countListed(home.db, {})).toBe(20_000);
});

it('leaves the server thread free while it counts (an inline count holds it)', async () => {
  const inline = () => countListed(home.db, {});
  expect(await settlesWithoutATurn(inline())).toBe(true);
  let usedInline = false;
  const viaThread = counts.count({}, () => ((usedInline = true), inline()));
  expect(usedInline).toBe(false);
  expect(await settlesWithoutATurn(viaThread)).toBe(false);
  expect(await counts.count({}, inline)).toBe(20_000);
});
