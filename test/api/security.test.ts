import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunJson } from '../../src/runs/run-json.js';
import { createApiFixture, fakeJpeg, type ApiFixture } from './harness.js';
import { describeEachDialect } from '../helpers/postgres.js';

/**
 * The local API's protections (issue 14, items 1-4 and 16), over real HTTP on a real socket: what a web
 * page in the user's browser could otherwise do to their archive, and what a network could.
 */

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A raw request: unlike fetch, it sends exactly the Host and Origin headers a hostile page would cause. */
function request(
  base: string,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<Answer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        method: options.method ?? 'GET',
        path: options.path,
        headers: { host: url.host, ...options.headers },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

const json = (answer: Answer) => JSON.parse(answer.body) as { error?: { code: string; message: string } };
const JSON_POST = { 'content-type': 'application/json', 'x-archivist-request': '1' };

describeEachDialect('API security', (dialect) => {
  describe('the API on loopback', () => {
    let f: ApiFixture;
    let base: string;
    let port: string;
    beforeAll(async () => {
      f = await createApiFixture(
        { 'a.jpg': fakeJpeg('a'), 'b.jpg': fakeJpeg('b'), 'c.jpg': fakeJpeg('c') },
        {},
        dialect,
      );
      base = await f.app.listen({ host: '127.0.0.1', port: 0 });
      port = new URL(base).port;
    });
    afterAll(async () => {
      await f?.close();
    });

    const runCount = async () => (await f.json<RunJson[]>('/api/runs')).length;

    it('answers only exact loopback names on its own port (DNS rebinding)', async () => {
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `LOCALHOST:${port}`]) {
        expect((await request(base, { path: '/api/status', headers: { host } })).status, host).toBe(200);
      }
      for (const host of [
        `127.0.0.1.evil.example:${port}`,
        `localhost.evil.example:${port}`,
        `evil.example:${port}`,
        `127.0.0.1:${Number(port) + 1}`, // a rebinding page on another port, or a proxy
        '127.0.0.1',
        `user@127.0.0.1:${port}`,
      ]) {
        const answer = await request(base, { path: '/api/status', headers: { host } });
        expect(answer.status, host).toBe(403);
        expect(json(answer).error?.code).toBe('forbidden');
      }
      // The reproduction: a run started through a rebound name.
      const before = await runCount();
      const rebound = await request(base, {
        method: 'POST',
        path: '/api/runs',
        headers: { ...JSON_POST, host: `127.0.0.1.evil.example:${port}` },
        body: JSON.stringify({ pipeline: 'apitest', collection: 'all' }),
      });
      expect(rebound.status).toBe(403);
      expect(await runCount()).toBe(before);
    });

    it('refuses state changes that a cross-site page could send', async () => {
      const started = await f.post('/api/runs', { pipeline: 'apitest', collection: 'all' });
      expect(started.status).toBe(201);
      const id = (started.body as unknown as RunJson).id;
      const cancel = (headers: Record<string, string>, body = '{}') =>
        request(base, { method: 'POST', path: `/api/runs/${id}/cancel`, headers, body });

      // The reproduction: a text/plain form post from another site.
      const form = await cancel({ 'content-type': 'text/plain', origin: 'http://evil.example' }, 'x');
      expect(form.status).toBe(403);
      const plain = await cancel({ 'content-type': 'text/plain', 'x-archivist-request': '1' }, '{}');
      expect(plain.status).toBe(415);
      const urlencoded = await cancel({ 'content-type': 'application/x-www-form-urlencoded' }, 'a=1');
      expect(urlencoded.status).toBe(415);
      expect((await cancel({ ...JSON_POST, origin: 'http://evil.example' })).status).toBe(403);
      expect((await cancel({ ...JSON_POST, origin: 'null' })).status).toBe(403);
      expect((await cancel({ ...JSON_POST, origin: `http://localhost:${Number(port) + 1}` })).status).toBe(
        403,
      );
      expect((await cancel({ ...JSON_POST, 'sec-fetch-site': 'cross-site' })).status).toBe(403);
      expect((await cancel({ ...JSON_POST, 'sec-fetch-site': 'same-site' })).status).toBe(403);
      const noHeader = await cancel({ 'content-type': 'application/json' });
      expect(noHeader.status).toBe(403);
      expect(json(noHeader).error?.message).toMatch(/x-archivist-request/);
      // None of them touched the run.
      expect((await f.json<RunJson>(`/api/runs/${id}`)).status).toBe('queued');

      // What the UI sends (same origin, JSON, the header) is accepted.
      const ok = await cancel({
        ...JSON_POST,
        origin: base.replace(/\/$/, ''),
        'sec-fetch-site': 'same-origin',
      });
      expect(ok.status).toBe(202);
      expect((await f.json<RunJson>(`/api/runs/${id}`)).status).toMatch(/^(cancelling|cancelled)$/);
    });

    it('lets no other site embed or fetch an original, but lets a link open the UI', async () => {
      const [asset] = (await f.json<{ items: { id: string }[] }>('/api/assets')).items;
      const original = `/api/assets/${asset!.id}/original`;
      const embedded = await request(base, {
        path: original,
        headers: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'image' },
      });
      expect(embedded.status).toBe(403);
      const same = await request(base, { path: original, headers: { 'sec-fetch-site': 'same-origin' } });
      expect(same.status).toBe(200);
      expect(same.headers['content-disposition']).toMatch(/^attachment;/);
      expect(same.headers['x-content-type-options']).toBe('nosniff');
      expect(same.headers['cross-origin-resource-policy']).toBe('same-origin');
      expect(same.headers['content-security-policy']).toMatch(/sandbox/);
      const linked = await request(base, {
        path: '/runs',
        headers: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' },
      });
      expect(linked.status).toBe(503); // this test server has no web app built in; not refused
    });

    it('sends a CSP that forbids framing, and no-sniff, on every response', async () => {
      for (const url of ['/api/status', '/', '/api/nothing-here']) {
        const answer = await request(base, { path: url });
        expect(answer.headers['content-security-policy'], url).toMatch(/frame-ancestors 'none'/);
        expect(answer.headers['content-security-policy'], url).toMatch(/script-src 'self'/);
        expect(answer.headers['x-frame-options']).toBe('DENY');
        expect(answer.headers['x-content-type-options']).toBe('nosniff');
      }
    });

    it('answers 409 or 404 with the reason when an original is no longer what was cataloged', async () => {
      const assets = (await f.json<{ items: { id: string; locations: { path: string }[] }[] }>('/api/assets'))
        .items;
      const byPath = (name: string) => assets.find((a) => a.locations[0]!.path === name)!.id;
      const fifo = byPath('a.jpg');
      const link = byPath('b.jpg');
      const edited = byPath('c.jpg');
      fs.rmSync(path.join(f.archive, 'a.jpg'));
      execFileSync('mkfifo', [path.join(f.archive, 'a.jpg')]);
      fs.rmSync(path.join(f.archive, 'b.jpg'));
      fs.writeFileSync(path.join(f.dir, 'outside.jpg'), fakeJpeg('outside'));
      fs.symlinkSync(path.join(f.dir, 'outside.jpg'), path.join(f.archive, 'b.jpg'));
      fs.appendFileSync(path.join(f.archive, 'c.jpg'), 'edited');

      for (const [id, what] of [
        [fifo, 'fifo'],
        [link, 'symlink'],
        [edited, 'edited'],
      ] as const) {
        const answer = await request(base, { path: `/api/assets/${id}/original` });
        expect(answer.status, what).toBe(409);
        expect(json(answer).error?.code, what).toBe('source-changed');
        expect(answer.body).not.toContain('outside');
      }
      fs.rmSync(path.join(f.archive, 'c.jpg'));
      const gone = await request(base, { path: `/api/assets/${edited}/original` });
      expect(gone.status).toBe(404);
      expect(json(gone).error?.message).toMatch(/gone/);
    });
  });

  describe('the API with an access token', () => {
    const token = 'k'.repeat(40);
    let f: ApiFixture;
    let base: string;
    beforeAll(async () => {
      f = await createApiFixture(
        { 'a.jpg': fakeJpeg('a') },
        { host: '0.0.0.0', accessToken: token },
        dialect,
      );
      // Listening on loopback only, though the server is configured as if on the network.
      base = await f.app.listen({ host: '127.0.0.1', port: 0 });
    });
    afterAll(async () => {
      await f?.close();
    });

    it('requires the token on every request, API and UI alike', async () => {
      const api = await request(base, { path: '/api/status' });
      expect(api.status).toBe(401);
      expect(json(api).error?.code).toBe('unauthorized');
      expect(api.headers['www-authenticate']).toMatch(/^Bearer/);
      const page = await request(base, { path: '/' });
      expect(page.status).toBe(401);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      expect(page.body).toContain('access token');
      const wrong = await request(base, {
        path: '/api/status',
        headers: { authorization: `Bearer ${'x'.repeat(40)}` },
      });
      expect(wrong.status).toBe(401);
      const post = await request(base, {
        method: 'POST',
        path: '/api/runs',
        headers: JSON_POST,
        body: JSON.stringify({ pipeline: 'apitest', collection: 'all' }),
      });
      expect(post.status).toBe(401);
      expect(
        await request(base, { path: '/api/status', headers: { authorization: `Bearer ${token}` } }),
      ).toMatchObject({ status: 200 });
    });

    it('turns ?token= into an HttpOnly same-site cookie and takes it out of the address', async () => {
      const login = await request(base, { path: `/runs?x=1&token=${token}` });
      expect(login.status).toBe(303);
      expect(login.headers.location).toBe('/runs?x=1');
      const cookie = login.headers['set-cookie']![0]!;
      expect(cookie).toMatch(/HttpOnly/);
      expect(cookie).toMatch(/SameSite=Strict/);
      const withCookie = await request(base, {
        path: '/api/status',
        headers: { cookie: cookie.split(';')[0]! },
      });
      expect(withCookie.status).toBe(200);
      expect((await request(base, { path: `/runs?token=${'y'.repeat(40)}` })).status).toBe(401);
    });

    it('answers an IP literal beyond loopback, still never a foreign name', async () => {
      const auth = { authorization: `Bearer ${token}` };
      const port = new URL(base).port;
      expect(
        (await request(base, { path: '/api/status', headers: { ...auth, host: `192.168.1.20:${port}` } }))
          .status,
      ).toBe(200);
      expect(
        (await request(base, { path: '/api/status', headers: { ...auth, host: `evil.example:${port}` } }))
          .status,
      ).toBe(403);
    });
  });
});
