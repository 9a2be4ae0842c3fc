import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliJson } from '../helpers/cli.js';
import { createApiFixture, fakeJpeg, type ApiFixture } from './harness.js';
import { describeEachDialect } from '../helpers/postgres.js';

/**
 * The API mirrors the CLI (PRODUCT section 5): for the same home, every GET answers exactly what the
 * matching `archivist ... --json` prints (the API may add fields; those are named and removed here).
 * Needs the built CLI (`npm run build`).
 */

describeEachDialect('API and CLI', (dialect) => {
  let f: ApiFixture;
  let runA: string;
  let runB: string;
  const cli = <T>(args: string[]) => runCliJson<T>(args, { home: f.home.layout.root });
  const without = <T extends object>(value: T, ...keys: string[]) =>
    Object.fromEntries(Object.entries(value).filter(([k]) => !keys.includes(k)));

  beforeAll(async () => {
    f = await createApiFixture(
      {
        'a/one.jpg': fakeJpeg('one'),
        'a/two.jpg': fakeJpeg('two'),
        'b/bad.jpg': fakeJpeg('bad'),
        'b/readme.txt': Buffer.from('text\n'),
      },
      {},
      dialect,
    );
    const decide = (file: string) =>
      file.endsWith('bad.jpg')
        ? { fail: { reason: 'decode-error', message: 'corrupt' } }
        : { metadata: { takenAt: '2010-01-01T00:00:00Z', make: 'Canon', model: 'EOS' } };
    const started = await f.post('/api/runs', {
      pipeline: 'apitest',
      collection: 'all',
      policy: 'production',
    });
    runA = started.body.id as string;
    await f.work(runA, decide);
    const retried = await f.post(`/api/runs/${runA}/retry`, { failedOnly: true, set: ['thumbnail.size=32'] });
    runB = retried.body.id as string;
    await f.work(runB, decide);
  });
  afterAll(async () => {
    await f?.close();
  });

  describe('the API answers what the CLI prints', () => {
    it('sources, assets and one asset', async () => {
      expect(await f.json('/api/sources')).toEqual(await cli(['source', 'list']));
      const page = await f.json<{ total: number; items: { id: string }[] }>('/api/assets?limit=1000');
      const listed = await cli<{ id: string }[]>(['assets']);
      expect(page.total).toBe(listed.length);
      expect(
        page.items.map((item) => without(item, 'thumbnail', 'time', 'durationSec', 'failure', 'relatives')),
      ).toEqual(listed);
      for (const { id } of listed)
        expect(await f.json(`/api/assets/${id}`)).toEqual(await cli(['asset', id]));
    });

    it('collections', async () => {
      expect(await f.json('/api/collections')).toEqual(await cli(['collection', 'list']));
      expect(await f.json('/api/collections/all')).toEqual(await cli(['collection', 'show', 'all']));
    });

    it('runs, one run, and a comparison', async () => {
      expect(await f.json('/api/runs')).toEqual(await cli(['run', 'list']));
      expect(without(await f.json<object>(`/api/runs/${runA}`), 'inProgress')).toEqual(
        await cli(['run', 'show', runA]),
      );
      expect(await f.json(`/api/runs/compare?a=${runA}&b=${runB}`)).toEqual(
        await cli(['run', 'compare', runA, runB]),
      );
    });

    it('artifacts', async () => {
      const asset = await f.json<{ artifacts: { id: string }[] }>(
        '/api/asset?ref=' + (await cli<{ id: string }[]>(['assets']))[0]!.id,
      );
      expect(asset.artifacts.length).toBeGreaterThan(0);
      for (const { id } of asset.artifacts)
        expect(await f.json(`/api/artifacts/${id}`)).toEqual(await cli(['artifact', id]));
    });
  });
});
