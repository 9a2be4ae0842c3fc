import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { listPipelines } from '../../pipeline/registry.js';
import { activeRunIds } from '../../store/runs-repository.js';
import { catalogTotals } from '../../store/assets-repository.js';
import type { ApiContext } from '../context.js';

/**
 * The pipelines this server knows, each step's params as JSON Schema (from the step's own zod schema, so
 * the start form offers exactly what the server will accept), and a cheap status the UI polls to notice
 * new assets and artifacts.
 */
export function registerPipelineRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/api/pipelines', () =>
    listPipelines().map((p) => ({
      name: p.name,
      version: p.version,
      ref: `${p.name}@${p.version}`,
      description: p.description,
      steps: p.steps.map((s) => ({
        name: s.name,
        artifactKind: s.artifactKind,
        mediaTypes: s.mediaTypes,
        needs: s.needs ?? [],
        tool: s.tool.name,
        params: z.toJSONSchema(s.params, { io: 'input', unrepresentable: 'any' }),
      })),
    })),
  );

  app.get('/api/status', async () => ({
    ...(await catalogTotals(ctx.home.db)),
    activeRuns: await activeRunIds(ctx.home.db),
  }));
}
