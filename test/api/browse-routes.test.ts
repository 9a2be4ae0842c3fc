import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimWorkItem } from '../../src/runs/claim-work-item.js';
import { transitionRun } from '../../src/store/runs-repository.js';
import { createApiFixture, fakeJpeg, type ApiFixture, type Outcome } from './harness.js';
import { describeEachDialect } from '../helpers/postgres.js';

/**
 * What the web UI's grid asks of the API (issue 16): the listing by capture time (newest or oldest first,
 * path as before), the time each asset is placed by and where it came from, month headers with their
 * counts and offsets, cursors through a time order, a video's duration, the failure behind a tile, the
 * duplicates filter, and a run's in-progress count apart from the items claimed ahead.
 */

interface Item {
  id: string;
  locations: { path: string }[];
  time: { local: string; zone: string | null; source: string } | null;
  durationSec: number | null;
  failure: { reason: string; message: string; step: string; runId: string } | null;
}
interface Page {
  total: number;
  nextCursor: string | null;
  items: Item[];
}

const METADATA: Record<string, unknown> = {
  // core@2: the wall-clock time wins over the instant (a UTC stamp of a video, shown in its zone).
  'a/holiday.mov': {
    takenAtLocal: '2021-07-04T21:15:00',
    takenAt: '2021-07-04T19:15:00Z',
    timeZone: 'Europe/Paris',
    durationSec: 83.4,
  },
  'b/canon.jpg': { takenAt: '2004-03-01T10:00:00+01:00', timeZone: '+01:00' },
  'c/nikon.jpg': { takenAt: '2008-07-14T18:30:00+02:00', timeZone: 'Europe/Berlin' },
  // core@1 without a zone: `Z` marks an unknown zone, the wall-clock time is what the camera showed.
  'd/old.jpg': { takenAt: '2008-07-02T08:00:00Z', timeZone: null },
  'e/same-month.jpg': { takenAt: '2021-07-01T09:00:00+02:00', timeZone: 'Europe/Paris' },
};
const decide = (file: string): Outcome =>
  file === 'f/broken.jpg'
    ? { fail: { reason: 'decode-error', message: 'not a JPEG: premature end' } }
    : { metadata: METADATA[file] ?? { takenAt: null } };

describeEachDialect('browse routes', (dialect) => {
  let f: ApiFixture;
  let runId: string;
  beforeAll(async () => {
    f = await createApiFixture(
      {
        'a/holiday.mov': Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypqt  holiday')]),
        'b/canon.jpg': fakeJpeg('canon'),
        'c/nikon.jpg': fakeJpeg('nikon'),
        'd/old.jpg': fakeJpeg('old'),
        'e/same-month.jpg': fakeJpeg('same-month'),
        'f/broken.jpg': fakeJpeg('broken'),
        'g/no-metadata.jpg': fakeJpeg('no-metadata'),
        'h/copy-of-canon.jpg': fakeJpeg('canon'), // the same bytes: one asset at two locations
      },
      {},
      dialect,
    );
    const started = await f.post('/api/runs', { pipeline: 'apitest', collection: 'all' });
    runId = String(started.body.id);
    await f.work(runId, decide);
  });
  afterAll(async () => {
    await f?.close();
  });

  const names = (page: Page) => page.items.map((item) => item.locations[0]!.path);

  describe('the grid by time', () => {
    it('sorts newest first, oldest first, or by path, placing each asset by its best time', async () => {
      const newest = await f.json<Page>('/api/assets?sort=newest');
      // g/no-metadata.jpg has metadata without a time, f/broken.jpg failed before any: both are placed by
      // their file times (written by this test a moment ago), the newest of all.
      expect(names(newest).slice(0, 2).sort()).toEqual(['f/broken.jpg', 'g/no-metadata.jpg']);
      expect(names(newest).slice(2)).toEqual([
        'a/holiday.mov',
        'e/same-month.jpg',
        'c/nikon.jpg',
        'd/old.jpg',
        'b/canon.jpg',
      ]);
      const oldest = await f.json<Page>('/api/assets?sort=oldest');
      expect(names(oldest).slice(0, 5)).toEqual([
        'b/canon.jpg',
        'd/old.jpg',
        'c/nikon.jpg',
        'e/same-month.jpg',
        'a/holiday.mov',
      ]);
      const byPath = await f.json<Page>('/api/assets');
      expect(names(byPath)).toEqual([...names(byPath)].sort());
      const byId = new Map(newest.items.map((item) => [item.locations[0]!.path, item]));
      expect(byId.get('a/holiday.mov')!.time).toEqual({
        local: '2021-07-04T21:15:00',
        zone: 'Europe/Paris',
        source: 'takenAtLocal',
      });
      expect(byId.get('c/nikon.jpg')!.time).toEqual({
        local: '2008-07-14T18:30:00',
        zone: 'Europe/Berlin',
        source: 'takenAt',
      });
      expect(byId.get('d/old.jpg')!.time).toMatchObject({ local: '2008-07-02T08:00:00', zone: null });
      expect(byId.get('g/no-metadata.jpg')!.time).toMatchObject({ source: 'mtime', zone: 'UTC' });
      expect(byId.get('a/holiday.mov')!.durationSec).toBe(83.4);
      expect(byId.get('b/canon.jpg')!.durationSec).toBeNull();
    });

    it('pages through a time order by cursor without gaps or repeats', async () => {
      const all = names(await f.json<Page>('/api/assets?sort=newest'));
      const seen: string[] = [];
      let page = await f.json<Page>('/api/assets?sort=newest&limit=2');
      for (;;) {
        seen.push(...names(page));
        if (!page.nextCursor) break;
        page = await f.json<Page>(`/api/assets?sort=newest&limit=2&cursor=${page.nextCursor}`);
      }
      expect(seen).toEqual(all);
    });

    it('gives the month headers of the same listing: counts and where each starts', async () => {
      const now = new Date().toISOString().slice(0, 7);
      const timeline = await f.json<{ total: number; groups: unknown[] }>('/api/assets/timeline?sort=newest');
      expect(timeline.total).toBe(7);
      expect(timeline.groups).toEqual([
        { month: now, count: 2, offset: 0 },
        { month: '2021-07', count: 2, offset: 2 },
        { month: '2008-07', count: 2, offset: 4 },
        { month: '2004-03', count: 1, offset: 6 },
      ]);
      // Filters apply to the headers as to the grid.
      const images = await f.json<{ groups: { month: string; count: number }[] }>(
        '/api/assets/timeline?sort=newest&type=image&path=*/*.jpg',
      );
      expect(images.groups.find((g) => g.month === '2021-07')?.count).toBe(1);
      expect((await f.json<{ groups: unknown[] }>('/api/assets/timeline?sort=path')).groups).toEqual([]);
      const bad = await f.app.inject('/api/assets/timeline?sort=sideways');
      expect(bad.statusCode).toBe(400);
      expect(bad.json<{ error: { field: string } }>().error.field).toBe('sort');
    });
  });

  describe('what a tile shows', () => {
    it('carries the failure of the latest attempt, and none for assets that did not fail', async () => {
      const page = await f.json<Page>('/api/assets?sort=path');
      const broken = page.items.find((item) => item.locations[0]!.path === 'f/broken.jpg')!;
      expect(broken.failure).toMatchObject({
        reason: 'decode-error',
        message: 'not a JPEG: premature end',
        runId,
      });
      expect(page.items.filter((item) => item.failure !== null)).toHaveLength(1);
    });

    it('lists the duplicates: assets at more than one location', async () => {
      const page = await f.json<Page>('/api/assets?duplicates=true');
      expect(page.total).toBe(1);
      expect(page.items[0]!.locations.map((l) => l.path)).toEqual(['b/canon.jpg', 'h/copy-of-canon.jpg']);
      expect((await f.json<Page>('/api/assets?duplicates=true&type=video')).total).toBe(0);
    });
  });

  describe('a time order while metadata comes in', () => {
    it('places an asset anew in the transaction that commits its metadata', async () => {
      const before = await f.json<Page>('/api/assets?sort=newest');
      expect(names(before)[0]).not.toBe('b/canon.jpg');
      // A new run re-dates canon.jpg: its metadata now says 2030, the newest of all.
      const started = await f.post('/api/runs', { pipeline: 'apitest', collection: 'all', force: true });
      await f.work(String(started.body.id), (file) =>
        file === 'b/canon.jpg' ? { metadata: { takenAt: '2030-01-02T03:04:05+01:00' } } : decide(file),
      );
      // No re-sort to wait for: the order is the index's, and the facts row came with the artifact.
      const page = await f.json<Page>('/api/assets?sort=newest');
      expect(names(page)[0]).toBe('b/canon.jpg');
      expect(page.items[0]!.time).toEqual({
        local: '2030-01-02T03:04:05',
        zone: '+01:00',
        source: 'takenAt',
      });
      const timeline = await f.json<{ groups: { month: string; count: number }[] }>(
        '/api/assets/timeline?sort=newest',
      );
      expect(timeline.groups[0]).toEqual({ month: '2030-01', count: 1, offset: 0 });
    });
  });

  describe('a live run', () => {
    it('tells the items in a worker’s hands apart from those claimed ahead', async () => {
      const started = await f.post('/api/runs', { pipeline: 'apitest', collection: 'all', force: true });
      const id = String(started.body.id);
      await transitionRun(f.home.db, id, ['queued'], 'running');
      // Two workers, each claiming a batch, as src/runs/worker.ts does with quick items.
      for (const [owner, limit] of [
        ['host:1', 5],
        ['host:2', 3],
      ] as const)
        await claimWorkItem(f.home.db, {
          runId: id,
          owner,
          leaseMs: 60_000,
          needs: {},
          now: Date.now(),
          limit,
        });
      const run = await f.json<{ counts: { running: number }; inProgress: number }>(`/api/runs/${id}`);
      expect(run.counts.running).toBe(8);
      expect(run.inProgress).toBe(2);
      await f.post(`/api/runs/${id}/cancel`);
    });
  });

  describe('originals by byte range (a <video> seeking)', () => {
    const idOf = async (path: string) =>
      (await f.json<Page>('/api/assets?limit=100')).items.find((item) => item.locations[0]!.path === path)!
        .id;

    it('answers one range with 206 and exactly those bytes, through the read-only reader', async () => {
      const bytes = fs.readFileSync(`${f.archive}/a/holiday.mov`);
      const url = `/api/assets/${await idOf('a/holiday.mov')}/original`;
      const whole = await f.app.inject(url);
      expect(whole.statusCode).toBe(200);
      expect(whole.headers['accept-ranges']).toBe('bytes');
      expect(whole.rawPayload).toEqual(bytes);
      const part = await f.app.inject({ url, headers: { range: 'bytes=4-9' } });
      expect(part.statusCode).toBe(206);
      expect(part.headers['content-range']).toBe(`bytes 4-9/${bytes.length}`);
      expect(part.headers['content-length']).toBe('6');
      expect(part.headers['content-type']).toBe('video/quicktime');
      expect(part.rawPayload).toEqual(bytes.subarray(4, 10));
      const open = await f.app.inject({ url, headers: { range: 'bytes=10-' } });
      expect(open.rawPayload).toEqual(bytes.subarray(10));
      const tail = await f.app.inject({ url, headers: { range: 'bytes=-3' } });
      expect(tail.headers['content-range']).toBe(
        `bytes ${bytes.length - 3}-${bytes.length - 1}/${bytes.length}`,
      );
      expect(tail.rawPayload).toEqual(bytes.subarray(-3));
      const past = await f.app.inject({ url, headers: { range: `bytes=${bytes.length}-` } });
      expect(past.statusCode).toBe(416);
      expect(past.headers['content-range']).toBe(`bytes */${bytes.length}`);
      // Several ranges: the whole file, which a client must accept.
      const several = await f.app.inject({ url, headers: { range: 'bytes=0-1,4-5' } });
      expect(several.statusCode).toBe(200);
      expect(several.rawPayload).toEqual(bytes);
    });

    it('still refuses a file that changed since it was cataloged, range or not', async () => {
      const url = `/api/assets/${await idOf('d/old.jpg')}/original`;
      fs.appendFileSync(`${f.archive}/d/old.jpg`, 'edited');
      const part = await f.app.inject({ url, headers: { range: 'bytes=0-3' } });
      expect(part.statusCode).toBe(409);
      expect(part.json<{ error: { code: string } }>().error.code).toBe('source-changed');
    });
  });
});
