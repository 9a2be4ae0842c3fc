import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { archiveManifest } from '../../helpers/archive-manifest.js';
import { describeEachDialect } from '../../helpers/postgres.js';
import { createWebFixture, until, WAIT_MS, type WebFixture } from './harness.js';

/**
 * The web UI end to end (issue 5), as a person uses it in Chromium: browse the cataloged demo archive,
 * start a run from the form (a bad param is refused first, naming it), watch the grid fill in without a
 * reload, open an asset's lineage, find the corrupt file's failure with its reason on the run page, retry
 * the failed items, compare the two runs, cancel a slow run and see its partial coverage, then resume it.
 * Screenshots of the grid and of a run page go to docs/screenshots/ for the README when asked for
 * (`npm run screenshots`). The archive is byte-for-byte unchanged at the end.
 */

interface RunJson {
  id: string;
  status: string;
  parentRunId: string | null;
  counts: { total: number; done: number; failed: number; pending: number; reused: number };
  steps: Record<string, { total: number; done: number; pending: number; failed: number }>;
  failures: { path: string; reason: string; step: string }[];
}

/** A time-ordered listing once the server has sorted in every metadata artifact. */
const settled = <T>(pathname: string) =>
  until(async () => {
    const page = await f.api<T & { settling: boolean }>(pathname);
    return page.settling ? undefined : page;
  }, `${pathname} to settle`);

interface ListPage {
  items: { id: string; time: { local: string } | null }[];
}

/** expect.poll with this suite's generous limit: a slow machine is slow, not wrong. */
const poll = <T>(probe: () => Promise<T> | T) => expect.poll(probe, { timeout: WAIT_MS, interval: 100 });

let f: WebFixture;
let firstRun: string;

const tiles = () => f.page.locator('[data-testid=grid] a.tile');
const firstTileId = () => tiles().first().getAttribute('data-asset-id');
const thumbTiles = () => f.page.locator('[data-testid=grid] a.tile[data-thumb="1"]');

describeEachDialect('the web UI', (dialect) => {
  beforeAll(async () => {
    f = await createWebFixture({ dialect, generated: 30 });
  });
  afterAll(async () => {
    await f?.close();
  });

  it('browses the cataloged archive: a count, and placeholder tiles before any run', async () => {
    const { total } = await f.api<{ total: number }>('/api/assets?limit=1');
    await f.page.goto('/');
    await poll(() => f.page.getByTestId('asset-count').textContent()).toBe(`${total} assets`);
    await until(async () => (await tiles().count()) === total, 'every tile to be drawn');
    expect(await thumbTiles().count()).toBe(0);
    // Nothing processed yet is not the same as failed: a plain placeholder, no failure badge.
    expect(await f.page.getByTestId('failed-badge').count()).toBe(0);
    expect(await f.page.locator('a.tile .placeholder-note').first().textContent()).toBe('not processed yet');
    // The filters narrow the grid and its count.
    await f.page.locator('select[name=type]').selectOption('video');
    await poll(() => f.page.getByTestId('asset-count').textContent()).toBe('3 assets');
    await f.page.getByRole('button', { name: 'Clear' }).click();
    await poll(() => f.page.getByTestId('asset-count').textContent()).toBe(`${total} assets`);
  });

  it('refuses a bad param in the start form, naming it, and starts nothing', async () => {
    await f.page.getByRole('link', { name: 'Runs', exact: true }).click();
    await f.page.getByTestId('new-run').click();
    await f.page.locator('select[name=pipeline]').selectOption('core@1');
    await f.page.locator('select[name=collection]').selectOption('everything');
    await f.page.locator('[name="thumbnail.size"]').fill('4');
    await f.page.getByRole('button', { name: 'Start run' }).click();
    const problem = f.page.getByTestId('start-run').getByTestId('problem');
    await poll(() => problem.textContent()).toMatch(/thumbnail\.size/);
    expect(await f.page.locator('[name="thumbnail.size"]').getAttribute('aria-invalid')).toBe('true');
    expect(await f.api<unknown[]>('/api/runs')).toEqual([]);
  });

  it('starts a run from the UI, and the grid fills in without a reload', async () => {
    await f.page.locator('[name="thumbnail.size"]').fill('320');
    await f.page.locator('input[name=workers]').fill('2');
    await f.page.getByRole('button', { name: 'Start run' }).click();
    await f.page.waitForURL(/\/runs\/r-[a-z0-9]+$/);
    firstRun = f.page.url().split('/').at(-1)!;
    await poll(() => f.page.getByTestId('run-page').getAttribute('data-run-id')).toBe(firstRun);
    // The run page lists the worker processes that claimed its items, by host.
    const workerRows = f.page.getByTestId('run-workers').locator('tbody tr');
    await poll(() => workerRows.count()).toBeGreaterThan(0);
    expect(await workerRows.first().getAttribute('data-host')).toBe(os.hostname());

    // To Browse by the app's own link: no page load from here on (the marker would be lost).
    await f.page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 42));
    await f.page.getByRole('link', { name: 'Browse' }).click();
    // By path: every tile fits in the window (by time, tiles move as their metadata arrives).
    await f.page.locator('select[name=sort]').selectOption('path');
    const seen: number[] = [];
    await until(async () => {
      seen.push(await thumbTiles().count());
      const run = await f.api<RunJson>(`/api/runs/${firstRun}`);
      const { total } = await f.api<{ total: number }>('/api/assets?has=thumbnail&limit=1');
      return run.status === 'completed' && total > 0 && seen.at(-1) === total;
    }, 'every thumbnail the run made to appear in the grid');
    expect(seen[0]).toBeLessThan(seen.at(-1)!);
    expect(seen).toEqual([...seen].sort((a, b) => a - b)); // it only fills, never flickers back
    expect(await f.page.evaluate(() => (globalThis as unknown as { marker?: number }).marker)).toBe(42);
    // Every image tile has its thumbnail loaded by the browser, from the content-addressed store.
    await until(
      () =>
        f.page
          .locator('a.tile img')
          .evaluateAll((images) =>
            images.every(
              (img) => (img as unknown as { complete: boolean; naturalWidth: number }).naturalWidth > 0,
            ),
          ),
      'thumbnails to load',
    );
  });

  it('shows the grid by capture time, newest first, under month headers, with a year list', async () => {
    // The order of the metadata the run made (the server re-sorts in the background, `settling` meanwhile).
    const newest = await settled<ListPage>('/api/assets?sort=newest&limit=1000');
    const timeline = await settled<{ groups: { month: string; count: number }[] }>(
      '/api/assets/timeline?sort=newest',
    );
    expect(timeline.groups.length).toBeGreaterThan(2);
    await f.page.goto('/');
    await poll(() => firstTileId()).toBe(newest.items[0]!.id);
    // Tiles are in the API's time order (the first screenful of them).
    const shown: (string | null)[] = [];
    for (let i = 0; i < 12; i++) shown.push(await tiles().nth(i).getAttribute('data-asset-id'));
    expect(shown.slice(0, 12)).toEqual(newest.items.slice(0, 12).map((item) => item.id));
    // A header per month, with its count, above the first of its tiles.
    const header = f.page.getByTestId('date-header').first();
    const first = timeline.groups[0]!;
    expect(await header.getAttribute('data-month')).toBe(first.month);
    expect(await header.textContent()).toMatch(
      new RegExp(`^[A-Z][a-z]+ ${first.month.slice(0, 4)} ${first.count}$`),
    );
    // Each tile shows the date it is sorted by.
    const day = newest.items[0]!.time!.local.slice(0, 10);
    const [y = 0, m = 1, d = 1] = day.split('-').map(Number);
    const shortMonth = new Date(Date.UTC(y, m - 1, d)).toLocaleString('en', {
      month: 'short',
      timeZone: 'UTC',
    });
    expect(await tiles().first().getByTestId('tile-date').textContent()).toContain(`${d} ${shortMonth} ${y}`);
    await f.screenshot('grid.png');

    // Oldest first turns the order around; the year list jumps to a year's first month.
    await f.page.locator('select[name=sort]').selectOption('oldest');
    const oldest = await settled<ListPage>('/api/assets?sort=oldest&limit=1');
    await poll(() => firstTileId()).toBe(oldest.items[0]!.id);
    expect(f.page.url()).toContain('sort=oldest');
    const years = f.page.getByTestId('years').locator('button');
    const secondYear = years.nth(1);
    const year = (await secondYear.textContent())!;
    await secondYear.click();
    // The first header at the top of the grid (not above it) is that year's first month.
    const headerAtTop = async () => {
      const top = (await f.page.getByTestId('grid').boundingBox())!.y;
      const headers = f.page.getByTestId('date-header');
      let best: { y: number; month: string | null } | undefined;
      for (let i = 0; i < (await headers.count()); i++) {
        const box = await headers.nth(i).boundingBox();
        if (box && box.y >= top - 2 && (!best || box.y < best.y))
          best = { y: box.y, month: await headers.nth(i).getAttribute('data-month') };
      }
      return best?.month ?? null;
    };
    await poll(headerAtTop).toMatch(new RegExp(`^${year}-`));
    await poll(() => secondYear.getAttribute('class')).toContain('current');
    // By path: the CLI's order, no headers.
    await f.page.locator('select[name=sort]').selectOption('path');
    const byPath = await f.api<ListPage>('/api/assets?sort=path&limit=1');
    await poll(() => firstTileId()).toBe(byPath.items[0]!.id);
    expect(await f.page.getByTestId('date-header').count()).toBe(0);
  });

  it('marks a failed item with its reason on hover, and a video with a play badge and its length', async () => {
    await f.page.goto('/?sort=path&path=broken/*');
    const corrupt = f.page.locator('a.tile', { hasText: 'corrupt.jpg' });
    const badge = corrupt.getByTestId('failed-badge');
    await poll(() => badge.count()).toBe(1);
    expect(await badge.getAttribute('title')).toMatch(/^thumbnail failed in r-[a-z0-9]+: decode-error/);
    expect(await corrupt.locator('.placeholder-failed').count()).toBe(1);
    await f.page.goto('/?type=video&sort=path');
    const video = f.page.locator('a.tile', { hasText: 'VID_20210704.mp4' });
    await poll(() => video.getByTestId('video-badge').textContent()).toMatch(/^▶ \d+:\d{2}$/);
  });

  it('opens a viewer from a tile: arrow keys and buttons step through, Escape closes', async () => {
    const newest = await settled<ListPage>('/api/assets?sort=newest&type=image&limit=3');
    await f.page.goto('/?type=image');
    await poll(() => firstTileId()).toBe(newest.items[0]!.id);
    await tiles().first().click();
    const viewer = f.page.getByTestId('viewer');
    await poll(() => viewer.getAttribute('data-asset-id')).toBe(newest.items[0]!.id);
    expect(f.page.url()).not.toMatch(/\/assets\//); // over the grid, not another page
    await f.page.keyboard.press('ArrowRight');
    await poll(() => viewer.getAttribute('data-asset-id')).toBe(newest.items[1]!.id);
    await f.page.keyboard.press('ArrowRight');
    await poll(() => viewer.getAttribute('data-asset-id')).toBe(newest.items[2]!.id);
    await f.page.keyboard.press('ArrowLeft');
    await poll(() => viewer.getAttribute('data-asset-id')).toBe(newest.items[1]!.id);
    await viewer.getByRole('button', { name: 'previous' }).click();
    await poll(() => viewer.getAttribute('data-asset-id')).toBe(newest.items[0]!.id);
    expect(await viewer.getByRole('button', { name: 'previous' }).isDisabled()).toBe(true);
    await viewer.getByRole('button', { name: 'next' }).click();
    await poll(() => viewer.getAttribute('data-asset-id')).toBe(newest.items[1]!.id);
    await f.page.keyboard.press('Escape');
    await poll(() => viewer.count()).toBe(0);
  });

  it('shows the key facts beside the picture, in words and readable numbers, never upscaled', async () => {
    const file = path.join(f.archive, '2023', 'trip', 'IMG_2003.jpg');
    const { id } = await f.api<{ id: string }>(`/api/asset?ref=${encodeURIComponent(file)}`);
    await f.page.goto('/?sort=path&path=2023/trip/*');
    await f.page.locator(`a.tile[data-asset-id="${id}"]`).click();
    const facts = f.page.getByTestId('viewer-facts');
    await poll(() => facts.textContent()).toMatch(/Exposure1\/\d+ s · f\/\d+(\.\d)? · \d+ mm · ISO \d+/);
    const text = await facts.textContent();
    expect(text).toMatch(/CameraSONY ILCE-7M3/);
    expect(text).toMatch(/LensFE 35mm F1\.8/);
    expect(text).toContain('Exposure1/887 s · f/5.6 · 23 mm · ISO 800');
    // The camera's wall-clock time with its zone: +02:00 in EXIF, named Europe/Zurich where the GPS
    // position's zone agrees with that offset (in summer), else the offset itself; the place to 5 decimals.
    expect(text).toMatch(/Taken\d+ [A-Z][a-z]{2} 20\d\d, \d{2}:\d{2} (Europe\/Zurich|\+02:00)Camera/);
    expect(await facts.getByTestId('coordinates').textContent()).toMatch(/^46\.\d{5}, 7\.\d{5}$/);
    // The copy link puts exactly the coordinates shown on the clipboard (issue 16: "a link that copies").
    await f.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: f.url });
    await facts.getByTestId('copy-coordinates').click();
    await poll(() => facts.getByTestId('copy-coordinates').textContent()).toBe('copied');
    expect(
      await f.page.evaluate(() =>
        (
          globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }
        ).navigator.clipboard.readText(),
      ),
    ).toBe(await facts.getByTestId('coordinates').textContent());
    // The thumbnail (320 px here, no preview step in core@1) is shown at its size at most.
    const image = f.page.getByTestId('viewer-image');
    await until(
      () => image.evaluate((img) => (img as unknown as { complete: boolean }).complete),
      'the image',
    );
    const { shown, natural } = await image.evaluate((img) => {
      const i = img as unknown as { naturalWidth: number; getBoundingClientRect(): { width: number } };
      return { shown: i.getBoundingClientRect().width, natural: i.naturalWidth };
    });
    expect(natural).toBeGreaterThan(0);
    expect(shown).toBeLessThanOrEqual(natural);
    await f.screenshot('viewer.png');
    await f.page.keyboard.press('Escape');
  });

  it('plays a video the browser can decode from the original, by byte ranges; else shows the keyframe', async () => {
    const ranges: number[] = [];
    const onResponse = (response: { url(): string; status(): number }) => {
      if (/\/original$/.test(response.url())) ranges.push(response.status());
    };
    f.page.on('response', onResponse);
    await f.page.goto('/?type=video&sort=path');
    await f.page.locator('a.tile', { hasText: 'VID_20210704.mp4' }).click();
    const video = f.page.getByTestId('viewer-video');
    await poll(() => video.count()).toBe(1);
    await video.evaluate((v) => {
      const media = v as unknown as { muted: boolean; play(): Promise<void> };
      media.muted = true;
      return media.play();
    });
    await until(
      () => video.evaluate((v) => (v as unknown as { currentTime: number }).currentTime > 0.2),
      'the video to play',
    );
    expect(ranges).toContain(206); // the browser asked for a range and got one
    f.page.off('response', onResponse);
    // The HEVC .mov: Chromium cannot decode it; its keyframe and a note instead.
    await f.page.keyboard.press('Escape');
    await f.page.locator('a.tile', { hasText: 'IMG_1235.MOV' }).click();
    await poll(() => f.page.getByTestId('viewer-note').textContent()).toMatch(/cannot play video\/quicktime/);
    expect(await f.page.getByTestId('viewer').locator('img').count()).toBe(1);
    await f.page.keyboard.press('Escape');
  });

  it('filters the duplicates: assets at more than one location', async () => {
    await f.page.goto('/');
    await f.page.locator('input[name=duplicates]').check();
    await poll(() => f.page.getByTestId('asset-count').textContent()).toBe('1 assets');
    await poll(() => tiles().first().getAttribute('title')).toMatch(/DSCN0010/);
    await f.page.locator('input[name=duplicates]').uncheck();
  });

  it("opens an asset's lineage, linked to its run", async () => {
    const file = path.join(f.archive, '2012', 'holiday', 'DSCN0010.jpg');
    const { id } = await f.api<{ id: string }>(`/api/asset?ref=${encodeURIComponent(file)}`);
    await f.page.goto('/?sort=path');
    await f.page.locator(`a.tile[data-thumb="1"][data-asset-id="${id}"]`).click();
    await f.page.getByTestId('viewer-asset-link').click();
    await f.page.waitForURL(/\/assets\/[0-9a-f]{64}$/);
    const thumb = f.page.locator('[data-testid=artifact][data-kind=thumbnail]');
    await poll(() => thumb.count()).toBe(1);
    expect(await thumb.getByTestId('lineage-pipeline').textContent()).toBe('core@1');
    expect(await thumb.getByTestId('lineage-step').textContent()).toBe('thumbnail');
    expect(await thumb.getByTestId('lineage-tool').textContent()).toMatch(/^sharp \d+\.\d+/);
    // The decoder chain that made this JPEG's thumbnail: sharp's own libvips, nothing else.
    expect(await thumb.getByTestId('lineage-decoder').textContent()).toMatch(
      /^sharp \d+\.\d+\.\d+ \(libvips [\d.]+\)$/,
    );
    expect(
      await f.page
        .locator('[data-testid=artifact][data-kind=metadata]')
        .getByTestId('lineage-decoder')
        .textContent(),
    ).toMatch(/^exiftool \d+\.\d+$/);
    expect(JSON.parse((await thumb.getByTestId('lineage-params').textContent())!)).toEqual({
      size: 320,
      quality: 80,
      format: 'webp',
      position: 0.1,
    });
    expect(await f.page.locator('[data-testid=artifact][data-kind=metadata]').count()).toBe(1);
    const metadata = await f.page.getByTestId('metadata').textContent();
    expect(metadata).toMatch(/Width640/);
    expect(metadata).toMatch(/MakeNIKON/);
    // Readable numbers: exposure as a camera prints it, the f-number, GPS to 5 decimals with a copy button.
    expect(await f.page.locator('[data-field=exposureTime]').textContent()).toMatch(/^1\/\d+ s$/);
    expect(await f.page.locator('[data-field=fNumber]').textContent()).toMatch(/^f\/\d+(\.\d)?$/);
    expect(await f.page.locator('[data-field=gps] [data-testid=coordinates]').textContent()).toMatch(
      /^-?\d+\.\d{5}, -?\d+\.\d{5}$/,
    );
    const locations = await f.page.getByTestId('locations').textContent();
    expect(locations).toContain('2012/holiday/DSCN0010.jpg');
    expect(locations).toContain('2012/holiday/DSCN0010 (copy).jpg'); // the same photo twice: one asset
    await f.screenshot('asset.png');
    await thumb.getByTestId('lineage-run').click();
    await f.page.waitForURL(new RegExp(`/runs/${firstRun}$`));
  });

  it("finds the corrupt file's failure, grouped by its reason, with the message and stderr", async () => {
    const run = await f.api<RunJson>(`/api/runs/${firstRun}`);
    const group = f.page.locator('.failure-group[data-reason=decode-error]');
    const failure = group.locator('li', { hasText: 'demo:broken/corrupt.jpg' });
    expect(run.failures, JSON.stringify(run.failures, null, 2)).toContainEqual(
      expect.objectContaining({ path: 'demo:broken/corrupt.jpg', reason: 'decode-error', step: 'thumbnail' }),
    );
    await poll(() => failure.count()).toBe(1);
    expect(await failure.locator('.failure-message').textContent()).toBeTruthy();
    expect(await failure.locator('pre.stderr').textContent()).toBeTruthy();
    expect(await f.page.getByTestId('done-thumbnail').textContent()).toBe(String(run.steps.thumbnail!.done));
    await f.screenshot('run.png');
  });

  it('retries the failed items as a new run, and compares the two', async () => {
    const before = await f.api<RunJson>(`/api/runs/${firstRun}`);
    await f.page.getByTestId('retry-failed').click();
    await f.page.waitForURL((url) => /\/runs\/r-/.test(url.pathname) && !url.pathname.endsWith(firstRun));
    const retryId = f.page.url().split('/').at(-1)!;
    const retry = await until(async () => {
      const run = await f.api<RunJson>(`/api/runs/${retryId}`);
      return run.status === 'completed' ? run : undefined;
    }, 'the retry to complete');
    expect(retry.parentRunId).toBe(firstRun);
    expect(new Set(retry.failures.map((x) => x.path))).toEqual(new Set(before.failures.map((x) => x.path)));
    await poll(() => f.page.getByTestId('status').first().textContent()).toBe('completed');
    // The run's Figures: rows in words, memory in MiB, times in s (issue 16: readable numbers).
    const figures = (await f.page.getByTestId('figures').textContent())!;
    expect(figures).toMatch(/Peak worker memory\d+(\.\d)? MiB/);
    expect(figures).toMatch(/Wall-clock time\d+(\.\d+)? (s|ms|min)/);
    expect(figures).not.toMatch(/peakWorkerRssBytes|wallSeconds|throughputPerSec/);
    await f.page.getByRole('link', { name: `Compare with ${firstRun}` }).click();
    await f.page.waitForURL(/\/compare\?/);
    await poll(() => f.page.getByTestId('verdict').textContent()).toMatch(/Faster/);
    const compared = (await f.page.getByTestId('compare').textContent())!;
    expect(compared).toContain(retryId);
    // The Compare table labels its rows in words, not field names, with units.
    expect(compared).toMatch(/Peak worker memory\d+(\.\d)? MiB/);
    expect(compared).toContain('Items in scope');
    expect(compared).not.toMatch(/peakWorkerRssBytes|wallSeconds|meanMs|p95Ms/);
    await f.screenshot('compare.png');
  });

  it('cancels a run from the UI, shows the partial coverage, and resumes it', async () => {
    await f.page.getByRole('link', { name: 'Runs', exact: true }).click();
    await f.page.getByTestId('new-run').click();
    await f.page.locator('select[name=pipeline]').selectOption('webdemo@1');
    await f.page.locator('[name="thumbnail.size"]').fill('128');
    await f.page.locator('[name="thumbnail.ms"]').fill('700');
    await f.page.locator('input[name=workers]').fill('1');
    await f.page.getByRole('button', { name: 'Start run' }).click();
    await f.page.waitForURL(/\/runs\/r-/);
    const id = f.page.url().split('/').at(-1)!;
    await until(
      async () => Number(await f.page.getByTestId('done-thumbnail').textContent()) >= 2,
      'a few thumbnails',
    );
    // One worker processes one item at a time: the page says so, apart from what it claimed ahead.
    const running = f.page.getByTestId('running-all steps');
    await poll(() => running.textContent()).toMatch(/^ · 1 in progress( · \d+ claimed ahead)?$/);
    await f.page.getByTestId('cancel').click();
    await poll(() => f.page.getByTestId('status').first().textContent()).toBe('cancelled');
    const cancelled = await f.api<RunJson>(`/api/runs/${id}`);
    const thumbs = cancelled.steps.thumbnail!;
    expect(thumbs.done).toBeGreaterThanOrEqual(2);
    expect(thumbs.pending).toBeGreaterThan(0);
    expect(thumbs.done + thumbs.pending + thumbs.failed).toBeLessThanOrEqual(thumbs.total);
    await expect
      .poll(() => f.page.getByTestId('coverage-thumbnail').textContent())
      .toContain(`${thumbs.pending} pending`);
    expect(await f.page.getByTestId('done-thumbnail').textContent()).toBe(String(thumbs.done));
    // The runs list shows the same partial bar.
    await f.page.getByRole('link', { name: 'Runs', exact: true }).click();
    const row = f.page.locator(`tr[data-run-id="${id}"]`);
    await poll(() => row.getByTestId('status').textContent()).toBe('cancelled');
    expect(await row.getByTestId('coverage-thumbnail').textContent()).toContain(`${thumbs.pending} pending`);
    await f.screenshot('runs.png');

    // Resume goes on from where it stopped, then a second cancel stops it again.
    await row.getByRole('link', { name: id }).click();
    await f.page.getByTestId('resume').click();
    await until(
      async () => (await f.api<RunJson>(`/api/runs/${id}`)).steps.thumbnail!.done > thumbs.done,
      'the resumed run to make progress',
    );
    await f.page.getByTestId('cancel').click();
    await poll(() => f.page.getByTestId('status').first().textContent()).toBe('cancelled');

    // What the stopped sandbox run made can be kept as it is (run promote): nothing is computed again.
    const stopped = await f.api<RunJson>(`/api/runs/${id}`);
    await f.page.getByTestId('promote').click();
    await f.page.waitForURL((url) => /\/runs\/r-/.test(url.pathname) && !url.pathname.endsWith(id));
    const promoted = await f.api<RunJson>(`/api/runs/${f.page.url().split('/').at(-1)!}`);
    expect(promoted).toMatchObject({ policy: 'production', status: 'completed', parentRunId: id });
    expect(promoted.counts.reused).toBe(stopped.counts.done);
    await poll(() => f.page.getByTestId('status').first().textContent()).toBe('completed');
  });

  it('works under its own Content-Security-Policy, which forbids framing', async () => {
    const index = await fetch(`${f.url}/`);
    const csp = index.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(index.headers.get('x-frame-options')).toBe('DENY');
    // Every page above ran under that policy: nothing it needs was blocked.
    expect(f.cspViolations).toEqual([]);
    // A page that frames the UI gets an empty frame: the browser refuses to render it.
    await f.page.setContent(`<iframe id="ui" src="${f.url}/"></iframe>`);
    const frame = await until(
      () => f.page.frames().find((candidate) => candidate.url().startsWith(f.url)),
      'the frame to navigate',
    );
    await frame.waitForLoadState('load');
    const framed = await frame.locator('#root').count();
    expect(framed).toBe(0);
  });

  it('left the archive exactly as it was', () => {
    expect(archiveManifest(f.archive)).toEqual(f.manifest);
  });
});
