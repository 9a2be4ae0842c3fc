import type { FastifyInstance } from 'fastify';
import { sourceListJson } from '../../catalog/source-json.js';
import type { ApiContext } from '../context.js';

export function registerSourceRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/api/sources', () => sourceListJson(ctx.home.db));
}
