import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  CollectionFilters,
  createCollection,
  getCollection,
  resolveCollection,
} from '../../runs/collections.js';
import { listCollections } from '../../store/collections-repository.js';
import { findRun } from '../../store/runs-repository.js';
import type { ApiContext } from '../context.js';
import { parseInput } from '../http-errors.js';

const CreateCollectionRequest = z
  .object({ name: z.string().min(1), filters: CollectionFilters.default({}) })
  .strict();

/**
 * Collections as `archivist collection list|show|create --json` print them: the saved filters and the
 * assets they mean now (a run freezes them when it starts).
 */
export function registerCollectionRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const db = ctx.home.db;

  app.get('/api/collections', async () => {
    const out: { name: string; filters: CollectionFilters; assets: number; createdAt: string }[] = [];
    for (const row of await listCollections(db)) {
      const filters = CollectionFilters.parse(JSON.parse(row.filters_json));
      out.push({
        name: row.name,
        filters,
        assets: (await resolveCollection(db, filters)).length,
        createdAt: row.created_at,
      });
    }
    return out;
  });

  app.get<{ Params: { name: string } }>('/api/collections/:name', async (request) => {
    const { row, filters } = await getCollection(db, request.params.name);
    const assets = await resolveCollection(db, filters);
    const byType: Record<string, number> = {};
    for (const asset of assets) byType[asset.mediaType] = (byType[asset.mediaType] ?? 0) + 1;
    return {
      name: row.name,
      filters,
      assets: assets.length,
      byType,
      assetIds: assets.map((a) => a.id),
      createdAt: row.created_at,
    };
  });

  app.post('/api/collections', async (request, reply) => {
    const { name, filters } = parseInput(CreateCollectionRequest, request.body);
    if (filters.fromRun) filters.fromRun.run = (await findRun(db, filters.fromRun.run)).id;
    const row = await createCollection(db, name, filters);
    const size = (await resolveCollection(db, filters)).length;
    return reply.status(201).send({ name: row.name, filters, assets: size, createdAt: row.created_at });
  });
}
