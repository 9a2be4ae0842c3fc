import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiFixture, fakeJpeg, type ApiFixture, type Outcome } from './harness.js';
import { describeEachDialect } from '../helpers/postgres.js';

/**
 * Runs through the API (issue 5): starting, retrying, resuming and cancelling with the CLI's request
 * schemas (400 naming the field), a started run handed to a background launcher, the run list with
 * coverage, a run with its failures, compare, artifacts by id (JSON and file), the asset filters that
 * depend on what runs made, and the server-sent progress stream.
 */

type Json = Record<string, unknown>;
interface RunJson {
  id: string;
  status: string;
  parentRunId: string | null;
  params: Record<string, Record<string, unknown>>;
  counts: { total: number; done: number; failed: number; pending: number };
  steps: Record<string, { done: number; failed: number }>;
  failures: {
    assetId: string;
    path: string;
    step: string;
    reason: string;
    message: string;
    stderrTail: string;
  }[];
}

const METADATA: Record<string, unknown> = {
  'canon.jpg': { takenAt: '2004-03-01T10:00:00+01:00', make: 'Canon', model: 'Canon EOS 40D' },
  'nikon.jpg': { takenAt: '2008-07-14T18:30:00+02:00', make: 'NIKON CORPORATION', model: 'NIKON D70' },
  'phone.jpg': { takenAt: '2021-12-31T23:59:59Z', make: 'Apple', model: 'iPhone 12' },
};
const decide = (file: string): Outcome =>
  file === 'broken.jpg'
    ? {
        fail: {
          reason: 'decode-error',
          message: 'not a JPEG: premature end',
          stderrTail: 'djpeg: bad huffman table',
        },
      }
    : { metadata: METADATA[file] ?? { takenAt: null, make: null, model: null } };

describeEachDialect('run routes', (dialect) => {
  let f: ApiFixture;
  let first: RunJson;
  beforeAll(async () => {
    f = await createApiFixture(
      {
        'canon.jpg': fakeJpeg('canon'),
        'nikon.jpg': fakeJpeg('nikon'),
        'phone.jpg': fakeJpeg('phone'),
        'broken.jpg': fakeJpeg('broken'),
      },
      {},
      dialect,
    );
  });
  afterAll(async () => {
    await f?.close();
  });

  const errorOf = (body: Json) =>
    body.error as { code: string; field?: string; param?: string; message: string };

  describe('starting runs', () => {
    it('refuses bad requests before anything is written, naming the field', async () => {
      const cases: [Json, number, string, string?][] = [
        [{ collection: 'all' }, 400, 'pipeline'],
        [{ pipeline: 'apitest' }, 400, 'collection'],
        [{ pipeline: 'nosuch', collection: 'all' }, 400, 'pipeline'],
        [{ pipeline: 'apitest', collection: 'nope' }, 404, 'collection'],
        [{ pipeline: 'apitest', collection: 'all', policy: 'yolo' }, 400, 'policy'],
        [{ pipeline: 'apitest', collection: 'all', workers: 0 }, 400, 'workers'],
        [{ pipeline: 'apitest', collection: 'all', set: ['thumbnail.size=4'] }, 400, 'set', 'thumbnail.size'],
        [
          { pipeline: 'apitest', collection: 'all', set: ['thumbnail.fit=stretch'] },
          400,
          'set',
          'thumbnail.fit',
        ],
        [
          { pipeline: 'apitest', collection: 'all', set: ['thumbnail.colour=red'] },
          400,
          'set',
          'thumbnail.colour',
        ],
        [{ pipeline: 'apitest', collection: 'all', speed: 'max' }, 400, 'request'],
      ];
      for (const [body, status, field, param] of cases) {
        const response = await f.post('/api/runs', body);
        expect(response.status, JSON.stringify(body)).toBe(status);
        const error = errorOf(response.body);
        if (field === 'request') expect(error.message).toMatch(/speed/);
        else expect(error.field, JSON.stringify(body)).toBe(field);
        if (param) expect(error.param).toBe(param);
      }
      expect(await f.json('/api/runs')).toEqual([]);
      expect(f.launched).toEqual([]);
    });

    it('starts a run: 201 with the run JSON, its params resolved, handed to a coordinator', async () => {
      const response = await f.post('/api/runs', {
        pipeline: 'apitest@1',
        collection: 'all',
        policy: 'production',
        set: ['thumbnail.size=128'],
        workers: 2,
      });
      expect(response.status).toBe(201);
      first = response.body as unknown as RunJson;
      expect(first).toMatchObject({ status: 'queued', counts: { total: 8, pending: 8 } });
      expect(first.params).toEqual({ metadata: {}, thumbnail: { size: 128, fit: 'contain' } });
      expect(f.launched).toEqual([{ runId: first.id, workers: 2 }]);
      const status = await f.json<{ activeRuns: string[] }>('/api/status');
      expect(status.activeRuns).toEqual([first.id]);
    });
  });

  describe('a run that has worked', () => {
    beforeAll(async () => {
      await f.work(first.id, decide);
    });

    it('lists runs with coverage per step, and shows one with its failures', async () => {
      const [listed] = await f.json<(RunJson & { steps: Record<string, { done: number }> })[]>('/api/runs');
      expect(listed).toMatchObject({
        id: first.id,
        status: 'completed',
        counts: { total: 8, done: 6, failed: 2 },
      });
      expect(listed!.steps).toMatchObject({
        metadata: { done: 3, failed: 1 },
        thumbnail: { done: 3, failed: 1 },
      });
      const run = await f.json<RunJson>(`/api/runs/${first.id.slice(0, 6)}`);
      expect(run.failures).toHaveLength(2);
      expect(run.failures[0]).toMatchObject({
        path: 'archive:broken.jpg',
        reason: 'decode-error',
        message: 'not a JPEG: premature end',
        stderrTail: 'djpeg: bad huffman table',
      });
      expect((await f.app.inject('/api/runs/r-nosuchrun')).statusCode).toBe(404);
    });

    it('serves artifacts by id: JSON with lineage, and the file with its type and immutable caching', async () => {
      const { items } = await f.json<{
        items: { id: string; thumbnail: { id: string; mime: string } | null }[];
      }>('/api/assets?path=canon.jpg');
      const thumb = items[0]!.thumbnail!;
      expect(thumb.mime).toBe('image/webp');
      const artifact = await f.json<Json & { lineage: Json }>(`/api/artifacts/${thumb.id}`);
      expect(artifact).toMatchObject({ id: thumb.id, kind: 'thumbnail', runId: first.id, current: true });
      expect(artifact.lineage).toMatchObject({
        runId: first.id,
        pipeline: 'apitest@1',
        step: 'thumbnail',
        tool: { name: 'api-test-tool', version: '2.5' },
        params: { size: 128, fit: 'contain' },
        inputs: [{ assetId: items[0]!.id, sha256: items[0]!.id }],
      });
      const file = await f.app.inject(`/api/artifacts/${thumb.id}/file`);
      expect(file.statusCode).toBe(200);
      expect(file.headers['content-type']).toBe('image/webp');
      expect(file.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(file.body).toBe('RIFF-thumbnail-of-canon.jpg');
      expect((await f.app.inject(`/api/artifacts/${thumb.id.slice(0, 8)}/file`)).statusCode).toBe(404);
      expect((await f.app.inject('/api/artifacts/a-00000000000000000000')).statusCode).toBe(404);
    });

    it("shows an asset's artifacts, metadata and history", async () => {
      const { items } = await f.json<{ items: { id: string }[] }>('/api/assets?path=nikon.jpg');
      const asset = await f.json<{ artifacts: { kind: string }[]; metadata: unknown }>(
        `/api/assets/${items[0]!.id}`,
      );
      expect(asset.artifacts.map((a) => a.kind).sort()).toEqual(['metadata', 'thumbnail']);
      expect(asset.metadata).toEqual(METADATA['nikon.jpg']);
      const broken = await f.json<{ items: { id: string }[] }>('/api/assets?path=broken.jpg');
      const history = await f.json<{ items: Json[] }>(`/api/assets/${broken.items[0]!.id}/history`);
      expect(history.items).toEqual([
        expect.objectContaining({
          runId: first.id,
          step: 'metadata',
          status: 'failed',
          reason: 'decode-error',
        }),
        expect.objectContaining({
          runId: first.id,
          step: 'thumbnail',
          status: 'failed',
          reason: 'decode-error',
        }),
      ]);
    });

    it('filters assets by capture date, camera, artifacts, missing steps and failures', async () => {
      const paths = async (query: string) =>
        (await f.json<{ items: { locations: { path: string }[] }[] }>(`/api/assets?${query}`)).items.map(
          (a) => a.locations[0]!.path,
        );
      expect(await paths('takenFrom=2005-01-01')).toEqual(['nikon.jpg', 'phone.jpg']);
      expect(await paths('takenFrom=2004-03-01&takenTo=2008-07-14')).toEqual(['canon.jpg', 'nikon.jpg']);
      expect(await paths('camera=nikon')).toEqual(['nikon.jpg']);
      expect(await paths('camera=EOS')).toEqual(['canon.jpg']);
      expect(await paths('has=thumbnail')).toEqual(['canon.jpg', 'nikon.jpg', 'phone.jpg']);
      expect(await paths('lacks=thumbnail')).toEqual(['broken.jpg']);
      expect(await paths('missing=thumbnail')).toEqual(['broken.jpg']);
      expect(await paths(`failedIn=${first.id}`)).toEqual(['broken.jpg']);
      const facets = await f.json<{ cameras: string[]; artifactKinds: string[] }>('/api/facets');
      expect(facets.cameras).toEqual(['Apple iPhone 12', 'Canon EOS 40D', 'NIKON CORPORATION NIKON D70']);
      expect(facets.artifactKinds).toEqual(['metadata', 'thumbnail']);
    });

    it('retries only the failed items as a new linked run, with changed params', async () => {
      const bad = await f.post(`/api/runs/${first.id}/retry`, { failedOnly: 'yes' });
      expect(bad.status).toBe(400);
      expect(errorOf(bad.body).field).toBe('failedOnly');
      const response = await f.post(`/api/runs/${first.id}/retry`, {
        failedOnly: true,
        set: ['thumbnail.size=64'],
      });
      expect(response.status).toBe(201);
      const retry = response.body as unknown as RunJson;
      expect(retry).toMatchObject({ parentRunId: first.id, status: 'queued', counts: { total: 2 } });
      expect(retry.params.thumbnail).toEqual({ size: 64, fit: 'contain' });
      expect(f.launched.at(-1)).toEqual({ runId: retry.id, workers: 2 });
      await f.work(retry.id, decide);

      const comparison = await f.json<{ a: { id: string }; b: { id: string }; params: Json[]; counts: Json }>(
        `/api/runs/compare?a=${first.id}&b=${retry.id}`,
      );
      expect(comparison.a.id).toBe(first.id);
      expect(comparison.params).toEqual([{ key: 'thumbnail.size', a: 128, b: 64 }]);
      expect(comparison.counts.total).toEqual({ a: 8, b: 2 });
      expect((await f.app.inject(`/api/runs/compare?a=${first.id}`)).statusCode).toBe(400);
    });

    it('refuses to resume a completed run, and resumes a cancelled one', async () => {
      const completed = await f.post(`/api/runs/${first.id}/resume`);
      expect(completed.status).toBe(400);
      expect(errorOf(completed.body).message).toMatch(/completed/);

      const started = await f.post('/api/runs', { pipeline: 'apitest', collection: 'all', force: true });
      const id = (started.body as unknown as RunJson).id;
      const cancelled = await f.post(`/api/runs/${id}/cancel`);
      expect(cancelled.status).toBe(202);
      expect(cancelled.body).toMatchObject({ id, status: 'cancelled', counts: { pending: 8 } });
      const again = await f.post(`/api/runs/${id}/cancel`, { now: true });
      expect(again.status).toBe(400);
      const resumed = await f.post(`/api/runs/${id}/resume`, { workers: 3 });
      expect(resumed.status).toBe(202);
      expect(f.launched.at(-1)).toEqual({ runId: id, workers: 3 });
      await f.work(id, decide);
      expect((await f.post(`/api/runs/${id}/cancel`)).status).toBe(400); // completed: nothing to cancel
    });
  });

  /** Parses a text/event-stream body into its events. */
  function events(body: string): { event: string; data: Json }[] {
    return body
      .split('\n\n')
      .map((block) => {
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        return event && data ? { event, data: JSON.parse(data) as Json } : undefined;
      })
      .filter((e) => e !== undefined);
  }

  describe('the progress stream', () => {
    it('sends one snapshot and ends at once for a stopped run', async () => {
      const response = await f.app.inject(`/api/runs/${first.id}/events`);
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toMatch(/^text\/event-stream/);
      const got = events(response.body);
      expect(got.map((e) => e.event)).toEqual(['progress', 'end']);
      expect(got[0]!.data).toMatchObject({
        id: first.id,
        status: 'completed',
        counts: { done: 6, failed: 2 },
      });
    });

    it('follows a live run over HTTP with coverage snapshots until it stops', async () => {
      const started = await f.post('/api/runs', { pipeline: 'apitest', collection: 'all', force: true });
      const id = (started.body as unknown as RunJson).id;
      const address = await f.app.listen({ host: '127.0.0.1', port: 0 });
      const response = await fetch(`${address}/api/runs/${id}/events`);
      expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      const readUntil = async (done: (text: string) => boolean) => {
        while (!done(text)) {
          const chunk = await reader.read();
          if (chunk.done) break;
          text += decoder.decode(chunk.value as Uint8Array, { stream: true });
        }
      };
      await readUntil((t) => events(t).some((e) => e.event === 'progress'));
      expect(events(text)[0]).toMatchObject({
        event: 'progress',
        data: { status: 'queued', counts: { pending: 8 } },
      });
      await f.work(id, decide);
      await readUntil((t) => events(t).some((e) => e.event === 'end'));
      const got = events(text);
      expect(got.at(-1)).toEqual({ event: 'end', data: { id, status: 'completed', statusReason: null } });
      expect(got.filter((e) => e.event === 'progress').at(-1)).toMatchObject({
        data: { status: 'completed', counts: { done: 6, failed: 2, pending: 0 } },
      });
      expect((await reader.read()).done).toBe(true);
    });
  });
});
