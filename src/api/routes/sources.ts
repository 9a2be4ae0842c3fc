import type { FastifyInstance } from 'fastify';
import { lastFinishedScans } from '../../store/scans-repository.js';
import { listSources, sourceLocationCounts } from '../../store/sources-repository.js';
import type { ApiContext } from '../context.js';

/** The JSON of `archivist source list --json`, from the same repositories. */
export async function sourceListJson(ctx: ApiContext) {
  const db = ctx.home.db;
  const sources = await listSources(db);
  const counts = await sourceLocationCounts(db);
  const scanned = await lastFinishedScans(db);
  return sources.map((s) => ({
    name: s.name,
    path: s.path,
    createdAt: s.created_at,
    files: counts.get(s.id)?.present ?? 0,
    missing: counts.get(s.id)?.missing ?? 0,
    lastCatalogedAt: scanned.get(s.id) ?? null,
  }));
}

export function registerSourceRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/api/sources', () => sourceListJson(ctx));
}
