import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { promoteRun } from '../../runs/promote-run.js';
import { toRunJson } from '../../runs/run-json.js';
import { cancelRun, prepareResume, retryRun, startRun, type PlannedRun } from '../../runs/run-requests.js';
import { findRun, getRun } from '../../store/runs-repository.js';
import type { ApiContext } from '../context.js';
import { parseInput } from '../http-errors.js';

const RunParams = z.object({ id: z.string().min(1) });

/** A JSON object body (an absent body is an empty one); anything else is refused by the shared schemas. */
function bodyOf(body: unknown): Record<string, unknown> {
  return body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
}

/**
 * The POST endpoints: the bodies are the CLI's requests (StartRunRequest, RetryRunRequest,
 * ResumeRunRequest), checked and carried out by the same functions as `archivist run ...`, so a bad
 * param is refused the same way (400, naming the field). A started run gets a background coordinator of
 * its own: it goes on if the server stops.
 */
export function registerRunActionRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { home } = ctx;

  const launched = async (planned: PlannedRun, status: 201 | 202) => {
    const { pid } = await ctx.launch(planned.runId, planned.workers);
    const run = await toRunJson(home.db, await getRun(home.db, planned.runId));
    return { status, body: { ...run, coordinatorPid: pid ?? null } };
  };

  app.post('/api/runs', async (request, reply) => {
    const { status, body } = await launched(await startRun(home, bodyOf(request.body)), 201);
    return reply.status(status).send(body);
  });

  app.post('/api/runs/:id/retry', async (request, reply) => {
    const { id } = parseInput(RunParams, request.params);
    const { status, body } = await launched(await retryRun(home, { ...bodyOf(request.body), run: id }), 201);
    return reply.status(status).send(body);
  });

  app.post('/api/runs/:id/resume', async (request, reply) => {
    const { id } = parseInput(RunParams, request.params);
    const { status, body } = await launched(
      await prepareResume(home, { ...bodyOf(request.body), run: id }),
      202,
    );
    return reply.status(status).send(body);
  });

  /** Keeps a stopped sandbox run's results as production ones (run promote): nothing runs, so no coordinator. */
  app.post('/api/runs/:id/promote', async (request, reply) => {
    const { id } = parseInput(RunParams, request.params);
    parseInput(z.object({}).strict(), bodyOf(request.body));
    const promotion = await promoteRun(home, id);
    const run = await toRunJson(home.db, await getRun(home.db, promotion.runId));
    return reply.status(201).send({ ...run, promotion });
  });

  /** Asks the run to stop and answers at once; the progress stream shows it reach `cancelled`. */
  app.post('/api/runs/:id/cancel', async (request, reply) => {
    const { id } = parseInput(RunParams, request.params);
    parseInput(z.object({}).strict(), bodyOf(request.body));
    const run = await findRun(home.db, id);
    await cancelRun(home, run.id, 0);
    return reply.status(202).send(await toRunJson(home.db, await getRun(home.db, run.id)));
  });
}
