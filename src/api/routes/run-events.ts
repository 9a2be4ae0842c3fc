import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { runCoverage, type StepCounts } from '../../store/run-outcomes-repository.js';
import { findRun, getRun } from '../../store/runs-repository.js';
import { itemsInProgress } from '../../store/browse-repository.js';
import type { RunStatus } from '../../store/schema.js';
import type { ApiContext } from '../context.js';
import { parseInput } from '../http-errors.js';

/** A run in one of these may still change; any other status is where it stopped. */
export const ACTIVE_STATUSES: ReadonlySet<RunStatus> = new Set(['queued', 'running', 'cancelling']);
const KEEPALIVE_MS = 15_000;

export interface ProgressSnapshot {
  id: string;
  status: RunStatus;
  statusReason: string | null;
  counts: StepCounts;
  steps: Record<string, StepCounts>;
  /** Of `counts.running`, how many a worker is processing now; the rest are claimed ahead. */
  inProgress: number;
  at: string;
}

/**
 * GET /api/runs/:id/events: server-sent events of a run's progress. The database is polled (every
 * ~500 ms) and a `progress` event carrying the coverage is sent whenever it changed; when the run stops,
 * an `end` event follows and the stream closes. Another process (the coordinator) does the work, so
 * polling the shared database is the one way to see it.
 */
export function registerRunEventRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const db = ctx.home.db;

  app.get('/api/runs/:id/events', async (request, reply) => {
    const { id: ref } = parseInput(z.object({ id: z.string().min(1) }), request.params);
    const { id } = await findRun(db, ref);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 2000\n\n');

    let last = '';
    let busy = false;
    let open = true;
    let lastWrite = Date.now();
    const send = (event: string, data: unknown) => {
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      lastWrite = Date.now();
    };
    const stop = () => {
      if (!open) return;
      open = false;
      clearInterval(timer);
      ctx.streams.delete(stop);
      res.end();
    };
    const tick = async () => {
      if (busy || !open) return;
      busy = true;
      try {
        const row = await getRun(db, id);
        const coverage = await runCoverage(db, id);
        const state = {
          id,
          status: row.status,
          statusReason: row.status_reason,
          counts: coverage.total,
          steps: coverage.steps,
          inProgress: coverage.total.running > 0 ? await itemsInProgress(db, id) : 0,
        };
        const text = JSON.stringify(state);
        if (!open) return;
        if (text !== last) {
          last = text;
          send('progress', { ...state, at: new Date().toISOString() } satisfies ProgressSnapshot);
        } else if (Date.now() - lastWrite > KEEPALIVE_MS) {
          res.write(': keepalive\n\n');
          lastWrite = Date.now();
        }
        if (!ACTIVE_STATUSES.has(row.status)) {
          send('end', { id, status: row.status, statusReason: row.status_reason });
          stop();
        }
      } catch (error) {
        if (open) send('error', { message: (error as Error).message });
        stop();
      } finally {
        busy = false;
      }
    };
    const timer = setInterval(() => void tick(), ctx.progressIntervalMs);
    ctx.streams.add(stop);
    res.on('close', stop); // the client went away (a request's own 'close' fires once it is read)
    await tick();
  });
}
