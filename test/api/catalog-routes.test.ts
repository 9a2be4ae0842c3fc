import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiFixture, fakeJpeg, type ApiFixture } from './harness.js';
import { describeEachDialect } from '../helpers/postgres.js';

/**
 * The read side of the API over a cataloged archive (issue 5): sources, the asset listing with its
 * filters, total and cursor pagination, one asset, its original (read-only), collections, and the
 * error shape (400 naming the field, 404, JSON for unknown endpoints).
 */

interface Page {
  total: number;
  offset: number;
  nextCursor: string | null;
  items: {
    id: string;
    mediaType: string;
    locations: { source: string; path: string }[];
    thumbnail: unknown;
  }[];
}

describeEachDialect('catalog routes', (dialect) => {
  let f: ApiFixture;
  beforeAll(async () => {
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 25; i++) files[`2019/img-${String(i).padStart(2, '0')}.jpg`] = fakeJpeg(`2019-${i}`);
    files['2020/beach.jpg'] = fakeJpeg('beach');
    files['2020/notes.txt'] = Buffer.from('a note, not a photo\n');
    files['2020/copy-of-beach.jpg'] = fakeJpeg('beach'); // the same content: one asset, two locations
    f = await createApiFixture(files, {}, dialect);
  });
  afterAll(async () => {
    await f?.close();
  });

  describe('catalog routes', () => {
    it('lists sources as `source list --json` does', async () => {
      const sources =
        await f.json<{ name: string; path: string; files: number; missing: number }[]>('/api/sources');
      expect(sources).toEqual([
        expect.objectContaining({ name: 'archive', path: fs.realpathSync(f.archive), files: 28, missing: 0 }),
      ]);
    });

    it('lists assets with a total, and pages through them by cursor without gaps or repeats', async () => {
      const first = await f.json<Page>('/api/assets?limit=10');
      expect(first.total).toBe(27);
      expect(first.items).toHaveLength(10);
      expect(first.items[0]!.locations[0]).toMatchObject({ source: 'archive', path: '2019/img-00.jpg' });
      expect(first.items.every((a) => a.thumbnail === null)).toBe(true);
      const seen = first.items.map((a) => a.id);
      let cursor = first.nextCursor;
      while (cursor) {
        const page = await f.json<Page>(`/api/assets?limit=10&cursor=${cursor}`);
        expect(page.total).toBe(27);
        seen.push(...page.items.map((a) => a.id));
        cursor = page.nextCursor;
      }
      expect(seen).toHaveLength(27);
      expect(new Set(seen).size).toBe(27);
      const byOffset = await f.json<Page>('/api/assets?limit=10&offset=20');
      expect(byOffset.items.map((a) => a.id)).toEqual(seen.slice(20, 30));
      expect(byOffset.nextCursor).toBeNull();
    });

    it('filters by type, path glob and source', async () => {
      expect((await f.json<Page>('/api/assets?type=other')).items.map((a) => a.locations[0]!.path)).toEqual([
        '2020/notes.txt',
      ]);
      const y2020 = await f.json<Page>('/api/assets?path=2020/*&type=image');
      expect(y2020.total).toBe(1);
      expect(y2020.items[0]!.locations.map((l) => l.path)).toEqual([
        '2020/beach.jpg',
        '2020/copy-of-beach.jpg',
      ]);
      expect((await f.json<Page>('/api/assets?source=archive&path=*.JPG')).total).toBe(26);
    });

    it('refuses bad filters with 400 naming the field', async () => {
      for (const [query, field] of [
        ['limit=0', 'limit'],
        ['type=picture', 'type'],
        ['source=nope', 'source'],
        ['takenFrom=yesterday', 'takenFrom'],
        ['missing=nosuchstep', 'missing'],
        ['cursor=bm90LW91cnM&offset=3', 'cursor'],
        ['colour=red', 'request'],
      ] as const) {
        const response = await f.app.inject(`/api/assets?${query}`);
        expect(response.statusCode, query).toBe(400);
        const error = response.json<{ error: { code: string; field?: string; message: string } }>().error;
        expect(error.code, query).toBe('usage');
        if (field !== 'request') expect(error.field, query).toBe(field);
        else expect(error.message).toMatch(/colour/);
      }
    });

    it('shows one asset as `asset --json` does, and 404s an unknown one', async () => {
      const page = await f.json<Page>('/api/assets?path=2020/beach.jpg');
      const id = page.items[0]!.id;
      const asset = await f.json<{
        id: string;
        sha256: string;
        artifacts: unknown[];
        metadata: unknown;
        locations: unknown[];
      }>(`/api/assets/${id.slice(0, 10)}`);
      expect(asset).toMatchObject({ id, sha256: id, artifacts: [], metadata: null });
      expect(asset.locations).toHaveLength(2);
      const byPath = await f.json<{ id: string }>(
        `/api/asset?ref=${encodeURIComponent(path.join(fs.realpathSync(f.archive), '2020', 'copy-of-beach.jpg'))}`,
      );
      expect(byPath.id).toBe(id);
      expect((await f.app.inject(`/api/assets/${'0'.repeat(64)}`)).statusCode).toBe(404);
      const bad = await f.app.inject('/api/assets/not-hex');
      expect(bad.statusCode).toBe(400);
      expect(bad.json<{ error: { field: string } }>().error.field).toBe('ref');
      expect((await f.json<{ items: unknown[] }>(`/api/assets/${id}/history`)).items).toEqual([]);
    });

    it('streams an original read-only, with its type, and leaves it untouched', async () => {
      const file = path.join(f.archive, '2020', 'beach.jpg');
      const before = fs.statSync(file, { bigint: true });
      const { items } = await f.json<Page>('/api/assets?path=2020/beach.jpg');
      const response = await f.app.inject(`/api/assets/${items[0]!.id}/original`);
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toBe('image/jpeg');
      expect(response.rawPayload.equals(fs.readFileSync(file))).toBe(true);
      const after = fs.statSync(file, { bigint: true });
      expect([after.mtimeNs, after.ctimeNs, after.size]).toEqual([
        before.mtimeNs,
        before.ctimeNs,
        before.size,
      ]);
      // A file that is not media is offered as a download, never rendered as a page of this server.
      const notes = await f.json<Page>('/api/assets?type=other');
      const other = await f.app.inject(`/api/assets/${notes.items[0]!.id}/original`);
      expect(other.headers['content-type']).toBe('application/octet-stream');
      expect(other.headers['content-disposition']).toMatch(/^attachment/);
    });

    it('lists, shows and creates collections, refusing bad ones', async () => {
      const created = await f.post('/api/collections', { name: 'y2019', filters: { path: '2019/*' } });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ name: 'y2019', assets: 25 });
      const list = await f.json<{ name: string; assets: number }[]>('/api/collections');
      expect(list.map((c) => [c.name, c.assets])).toEqual([
        ['all', 27],
        ['y2019', 25],
      ]);
      const shown = await f.json<{ assetIds: string[]; byType: Record<string, number> }>(
        '/api/collections/y2019',
      );
      expect(shown.assetIds).toHaveLength(25);
      expect(shown.byType).toEqual({ image: 25 });
      expect((await f.app.inject('/api/collections/nope')).statusCode).toBe(404);
      const duplicate = await f.post('/api/collections', { name: 'y2019' });
      expect(duplicate.status).toBe(400);
      const badFilter = await f.post('/api/collections', { name: 'x', filters: { type: 'photo' } });
      expect(badFilter.status).toBe(400);
      expect((badFilter.body.error as { field: string }).field).toBe('filters.type');
    });

    it('answers facets and status, JSON 404s for unknown endpoints, and refuses foreign Host headers', async () => {
      const facets = await f.json<{ sources: string[]; steps: string[]; cameras: string[] }>('/api/facets');
      expect(facets.sources).toEqual(['archive']);
      expect(facets.steps).toEqual(expect.arrayContaining(['metadata', 'thumbnail']));
      expect(facets.cameras).toEqual([]);
      expect(await f.json('/api/status')).toEqual({
        assets: 27,
        artifacts: 0,
        lastArtifactAt: null,
        activeRuns: [],
      });
      const unknown = await f.app.inject('/api/nothing-here');
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json<{ error: { code: string } }>().error.code).toBe('not-found');
      const rebound = await f.app.inject({ url: '/api/status', headers: { host: 'attacker.example:8750' } });
      expect(rebound.statusCode).toBe(403);
      const web = await f.app.inject('/runs');
      expect(web.statusCode).toBe(503); // this test server has no web app; `serve` has one
    });
  });
});
