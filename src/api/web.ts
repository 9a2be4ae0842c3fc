import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import type { ErrorBody } from './http-errors.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** The built web app: dist/web beside dist/api when installed; from src/api (tests), the repo's dist/web. */
export function defaultWebRoot(): string | undefined {
  const candidates = [path.join(HERE, '..', 'web'), path.join(HERE, '..', '..', 'dist', 'web')];
  return candidates.find((dir) => fs.existsSync(path.join(dir, 'index.html')));
}

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Archivist</title>
<p>The web UI is not built. Run <code>npm run build</code>, then start <code>archivist serve</code> again.
The API is at <a href="/api/status">/api/status</a>.</p>`;

/**
 * Serves the web app from `webRoot`: hashed assets cached for good, index.html never; any path that is
 * not an API or a file is the app's own route (client-side routing), so it gets index.html.
 */
export async function registerWeb(app: FastifyInstance, webRoot: string | undefined): Promise<void> {
  if (webRoot) {
    await app.register(fastifyStatic, {
      root: webRoot,
      wildcard: false,
      index: false,
      setHeaders(res, file) {
        res.setHeader(
          'cache-control',
          file.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache',
        );
      },
    });
  }
  app.setNotFoundHandler(async (request, reply) => {
    const pathname = request.url.split('?')[0] ?? '/';
    if (pathname.startsWith('/api/') || pathname === '/api' || request.method !== 'GET') {
      const body: ErrorBody = {
        error: {
          code: 'not-found',
          message: `no such endpoint: ${request.method} ${pathname}`,
          retryable: false,
        },
      };
      return reply.status(404).send(body);
    }
    if (!webRoot) return reply.status(503).type('text/html; charset=utf-8').send(NOT_BUILT);
    return reply.header('cache-control', 'no-cache').sendFile('index.html');
  });
}
