import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { archiveManifest } from '../../helpers/archive-manifest.js';
import { describeEachDialect } from '../../helpers/postgres.js';
import { createWebFixture, until, type WebFixture } from './harness.js';

/**
 * The grid over a large listing (issue 17): a synthetic archive of 6,000 files spread over 25 years of
 * folders, placed by their file times. The grid pages by keyset (a block after a loaded one continues from
 * its cursor) and jumps to a year through the date headers (a block starts at its month), so no request
 * reads the listing from its start or more than a block of it.
 */

const YEARS = 25;
const PER_MONTH = 20;
const TOTAL = YEARS * 12 * PER_MONTH;

function syntheticArchive(archive: string): Promise<void> {
  for (let y = 0; y < YEARS; y++) {
    const year = 2000 + y;
    for (let month = 1; month <= 12; month++) {
      const dir = path.join(archive, String(year), `event-${String(month).padStart(2, '0')}`);
      fs.mkdirSync(dir, { recursive: true });
      for (let i = 0; i < PER_MONTH; i++) {
        const file = path.join(dir, `img-${i}.jpg`);
        // JPEG magic, then bytes of its own: every file is an asset of its own.
        fs.writeFileSync(file, Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from(file)]));
        const when = new Date(Date.UTC(year, month - 1, 1 + i, 12));
        fs.utimesSync(file, when, when);
      }
    }
  }
  return Promise.resolve();
}

let f: WebFixture;
const requests: string[] = [];

const param = (search: string, name: string) => new URLSearchParams(search).get(name);

describeEachDialect('the grid of a large listing', (dialect) => {
  beforeAll(async () => {
    requests.length = 0;
    f = await createWebFixture({ dialect, generated: 0, layOut: syntheticArchive });
    f.page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.pathname === '/api/assets') requests.push(url.search);
    });
  }, 240_000);
  afterAll(async () => {
    if (!f) return;
    // Nothing the server did touched the archive.
    expect(archiveManifest(f.archive)).toEqual(f.manifest);
    await f.close();
  });

  it('pages by keyset and jumps to a year without loading the list', async () => {
    await f.page.goto('/');
    await until(
      async () =>
        (await f.page.getByTestId('asset-count').textContent()) === `${TOTAL.toLocaleString('en')} assets`,
      'the asset count',
    );
    const first = f.page.getByTestId('date-header').first();
    expect(await first.getAttribute('data-month')).toBe(`${2000 + YEARS - 1}-12`);
    await until(() => f.page.locator('[title^="demo:2024/event-12/"]').count(), 'the newest tiles');

    // Scrolling on: the next blocks continue from the last one's cursor.
    const grid = f.page.getByTestId('grid');
    await grid.evaluate((element) => {
      (element as unknown as { scrollTop: number }).scrollTop += 2500;
    });
    await until(() => requests.some((r) => param(r, 'cursor') !== null), 'a block read after a cursor');

    // A jump to 2003: its month's header and its tiles appear, read from that month on.
    const before = requests.length;
    await f.page.getByTestId('years').getByRole('button', { name: '2003' }).click();
    await until(() => f.page.locator('[data-month="2003-12"]').isVisible(), 'the header of December 2003');
    await until(() => f.page.locator('[title^="demo:2003/event-12/"]').count(), 'tiles of December 2003');
    const jumped = requests.slice(before);
    expect(jumped.some((r) => param(r, 'month')?.startsWith('2003-'))).toBe(true);

    for (const search of requests) {
      // Never more than a block, and no request skips more than the first screen's blocks (a jump by
      // offset to 2003 would skip 5,000): within a month at most its own assets.
      expect(Number(param(search, 'limit'))).toBeLessThanOrEqual(120);
      expect(Number(param(search, 'offset') ?? 0)).toBeLessThan(240);
      if (param(search, 'month') !== null)
        expect(Number(param(search, 'offset') ?? 0)).toBeLessThan(PER_MONTH);
    }
    // A handful of blocks for the screens shown, out of the listing's fifty.
    expect(requests.length).toBeLessThan(20);
  });
});
