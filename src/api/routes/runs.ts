import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { compareRunsByRef } from '../../runs/compare-runs.js';
import { runListJson, toRunJson } from '../../runs/run-json.js';
import { itemsInProgress } from '../../store/browse-repository.js';
import { findRun } from '../../store/runs-repository.js';
import type { ApiContext } from '../context.js';
import { parseInput } from '../http-errors.js';

const ListQuery = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) }).strict();
const CompareQuery = z.object({ a: z.string().min(1), b: z.string().min(1) }).strict();
const RunParams = z.object({ id: z.string().min(1) });

/**
 * Runs as the CLI shows them: `run list --json` (plus per-step coverage for the bars), `run show --json`
 * (toRunJson: record, coverage, failures, figures) and `run compare --json` (compareRuns).
 */
export function registerRunRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const db = ctx.home.db;

  app.get('/api/runs', async (request) => {
    const { limit } = parseInput(ListQuery, request.query);
    return runListJson(db, limit);
  });

  app.get('/api/runs/compare', async (request) => {
    const { a, b } = parseInput(CompareQuery, request.query);
    return compareRunsByRef(db, a, b);
  });

  app.get('/api/runs/:id', async (request) => {
    const { id } = parseInput(RunParams, request.params);
    const run = await toRunJson(db, await findRun(db, id));
    // `run show --json` plus how many of the running items are in a worker's hands right now.
    return { ...run, inProgress: run.counts.running > 0 ? await itemsInProgress(db, run.id) : 0 };
  });
}
