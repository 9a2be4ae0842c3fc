import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  CollectionFilters,
  collectionJson,
  createCollection,
  getCollection,
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

  app.get('/api/collections', async () =>
    Promise.all((await listCollections(db)).map((row) => collectionJson(db, row))),
  );

  app.get<{ Params: { name: string } }>('/api/collections/:name', async (request) => {
    const { row } = await getCollection(db, request.params.name);
    return collectionJson(db, row, true);
  });

  app.post('/api/collections', async (request, reply) => {
    const { name, filters } = parseInput(CreateCollectionRequest, request.body);
    if (filters.fromRun) filters.fromRun.run = (await findRun(db, filters.fromRun.run)).id;
    const row = await createCollection(db, name, filters);
    return reply.status(201).send(await collectionJson(db, row));
  });
}
