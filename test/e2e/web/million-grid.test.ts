import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliJson, tempDir } from '../../helpers/cli.js';
import { CHROMIUM, startServe, until, WAIT_MS } from './harness.js';

/**
 * The grid over a million assets (issue 17): a synthetic home whose rows are written by SQL in one
 * statement per table (the files do not exist: a listing never reads them), one asset every 13 minutes
 * or so from 2000 to 2024. The grid must scroll by time and jump to a year without loading the list:
 * every request is a block of at most 120 read from a cursor or from a month's start.
 */

const TOTAL = 1_000_000;
const START_MS = Date.UTC(2000, 0, 1);
const STEP_MS = Math.floor((Date.UTC(2025, 0, 1) - START_MS) / TOTAL);

/** assets and asset_facts rows for TOTAL assets, ids and times increasing together (appends only). */
function writeSyntheticRows(database: string): void {
  const db = new BetterSqlite3(database);
  try {
    const now = new Date().toISOString();
    db.transaction(() => {
      const numbers = `with recursive n(i) as (select 0 union all select i + 1 from n where i < ${TOTAL - 1})`;
      db.prepare(
        `${numbers} insert into assets (id, size, media_type, mime, first_seen_at)
         select printf('%064x', i), 1000 + i % 5000, 'image', 'image/jpeg', ? from n`,
      ).run(now);
      db.prepare(
        `${numbers} insert into asset_facts (asset_id, listed, media_type, file_mtime_ms, sort_ms, month)
         select printf('%064x', i), 1, 'image', ${START_MS} + i * ${STEP_MS}, ${START_MS} + i * ${STEP_MS},
           strftime('%Y-%m', (${START_MS} + i * ${STEP_MS}) / 1000, 'unixepoch') from n`,
      ).run();
    })();
  } finally {
    db.close();
  }
}

let root: { dir: string; cleanup: () => void };
let serve: { child: ChildProcess; url: string };
let context: BrowserContext;
let page: Page;
const requests: string[] = [];

beforeAll(async () => {
  for (const file of [CHROMIUM]) if (!fs.existsSync(file)) throw new Error(`${file} is missing`);
  root = tempDir('archivist-million-');
  const home = path.join(root.dir, 'home');
  fs.mkdirSync(path.join(root.dir, 'archive'));
  await runCliJson(['init'], { home });
  await runCliJson(['source', 'add', 'demo', path.join(root.dir, 'archive')], { home });
  writeSyntheticRows(path.join(home, 'archivist.db'));
  serve = await startServe(home);
  context = await chromium.launchPersistentContext(path.join(root.dir, 'chromium-profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--no-first-run',
    ],
    viewport: { width: 1600, height: 1100 },
    baseURL: serve.url,
  });
  context.setDefaultTimeout(WAIT_MS);
  page = context.pages()[0] ?? (await context.newPage());
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.pathname === '/api/assets') requests.push(url.search);
  });
}, 600_000);

afterAll(async () => {
  await context?.close();
  if (serve && serve.child.exitCode === null) {
    serve.child.kill('SIGINT');
    await new Promise((resolve) => serve.child.once('close', resolve));
  }
  root?.cleanup();
});

const param = (search: string, name: string) => new URLSearchParams(search).get(name);

describe('the grid of a million assets', () => {
  it('scrolls by time and jumps to a year, a block at a time', async () => {
    await page.goto('/');
    await until(
      async () =>
        (await page.getByTestId('asset-count').textContent()) === `${TOTAL.toLocaleString('en')} assets`,
      'the asset count',
    );
    const newest = new Date(START_MS + (TOTAL - 1) * STEP_MS).toISOString().slice(0, 7);
    expect(await page.getByTestId('date-header').first().getAttribute('data-month')).toBe(newest);
    // One month holds about 3,300 of them: more than a block, so scrolling continues within it.
    const grid = page.getByTestId('grid');
    await grid.evaluate((element) => {
      (element as unknown as { scrollTop: number }).scrollTop += 2500;
    });
    await until(() => requests.some((r) => param(r, 'cursor') !== null), 'a block read after a cursor');

    // A jump to 2003 (about 880,000 assets from the top): its header shows, read from its months.
    const before = requests.length;
    await page.getByTestId('years').getByRole('button', { name: '2003' }).click();
    await until(() => page.locator('[data-month="2003-12"]').isVisible(), 'the header of December 2003');
    // The headers come from the timeline, so one can show before its tiles' block is asked for: wait
    // for the block's request itself (a grid that walked by offset would never send one with month=).
    await until(
      () => requests.slice(before).some((r) => param(r, 'month') !== null),
      'a block read from its month',
    );
    // The block holding December 2003's first tiles starts in it or late in January 2004: read from
    // that month's start, never through the 880,000 before it.
    const months = requests
      .slice(before)
      .map((r) => param(r, 'month'))
      .filter((m) => m !== null);
    expect(months.length, requests.slice(before).join('\n')).toBeGreaterThan(0);
    for (const month of months) expect(month >= '2003-01' && month <= '2004-01', month).toBe(true);

    for (const search of requests) {
      // Never more than a block, and never an offset that walks the listing: within a month at most.
      expect(Number(param(search, 'limit'))).toBeLessThanOrEqual(120);
      expect(Number(param(search, 'offset') ?? 0)).toBeLessThan(4_000);
    }
    // A handful of blocks for the screens shown, out of the listing's 8,334.
    expect(requests.length).toBeLessThan(30);
  });
});
