import path from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { initHome, type Home } from '../../src/home/home.js';
import { tempDir } from '../helpers/cli.js';
import { dialectTitle, POSTGRES } from '../helpers/postgres.js';
import { createUnitRun, insertImageAssets } from '../helpers/unit-run.js';

/**
 * The work-item queue's upkeep on PostgreSQL (migration 0020, runs-repository.ts): claims and completions
 * rewrite rows under a new indexed status, so the queue is vacuumed and analyzed after 1 % of its rows
 * changed, and a large new run brings the planner's statistics up to date at once rather than when
 * autovacuum next looks (a minute later). SQLite keeps no such statistics.
 */

const homes: Home[] = [];
const cleanups: (() => void)[] = [];
afterEach(async () => {
  while (homes.length > 0) await homes.pop()!.close();
  while (cleanups.length > 0) cleanups.pop()!();
});

async function postgresHome(): Promise<Home> {
  const { dir, cleanup } = tempDir('archivist-upkeep-');
  cleanups.push(cleanup);
  const { home } = await initHome(path.join(dir, 'home'), { databaseUrl: await POSTGRES.newDatabase() });
  homes.push(home);
  return home;
}

let made = 0;

/** A run of one step over `count` new image assets. */
async function runOver(home: Home, count: number): Promise<void> {
  const ids = await insertImageAssets(home.db, `${home.layout.root} ${made++}`, count);
  await createUnitRun(home.db, ids);
}

/** The planner's row count of work_items: -1 until the table is first analyzed. */
async function plannerRows(home: Home): Promise<number> {
  const { rows } = await sql<{ reltuples: number }>`select reltuples::float8 as reltuples from pg_class
    where oid = 'work_items'::regclass`.execute(home.db);
  return Number(rows[0]!.reltuples);
}

describe.skipIf(POSTGRES.skipReason !== '')(`the work-item queue ${dialectTitle(POSTGRES)}`, () => {
  it('is vacuumed and analyzed after 1 % of its rows changed, not the default 20 %', async () => {
    const home = await postgresHome();
    const { rows } = await sql<{ options: string[] }>`select reloptions as options from pg_class
      where oid = 'work_items'::regclass`.execute(home.db);
    expect(rows[0]!.options).toEqual(
      expect.arrayContaining([
        'autovacuum_vacuum_scale_factor=0.01',
        'autovacuum_vacuum_threshold=1000',
        'autovacuum_analyze_scale_factor=0.01',
        'autovacuum_analyze_threshold=1000',
      ]),
    );
  });

  it('a run of 10,000 items or more is analyzed as it is made; a small one is left to autovacuum', async () => {
    const home = await postgresHome();
    // Autovacuum off for this table, so that only the run's own ANALYZE can change the planner's count.
    await sql`alter table work_items set (autovacuum_enabled = false)`.execute(home.db);
    await runOver(home, 50);
    expect(await plannerRows(home)).toBe(-1);
    await runOver(home, 10_000);
    expect(await plannerRows(home)).toBe(10_050);
  }, 60_000);
});
