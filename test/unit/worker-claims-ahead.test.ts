import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { z } from 'zod';
import { initHome, type Home } from '../../src/home/home.js';
import type { PipelineDefinition } from '../../src/pipeline/step.js';
import { createRun } from '../../src/runs/create-run.js';
import { openRunLog } from '../../src/runs/run-log.js';
import { runWorkerLoop } from '../../src/runs/worker.js';
import type { WorkerMessage } from '../../src/runs/worker-messages.js';
import { catalogSource } from '../../src/catalog/catalog-source.js';
import { makeJunkFilter } from '../../src/catalog/junk.js';
import { addSource } from '../../src/catalog/sources.js';
import { transitionRun } from '../../src/store/runs-repository.js';
import { workerStatsOfRun } from '../../src/store/run-workers-repository.js';
import { tempDir } from '../helpers/cli.js';
import { describeEachDialect, type TestDialect } from '../helpers/postgres.js';

/**
 * A worker stopped in the middle of quick items gives back every item it holds and has not done,
 * uncharged: the queue of its batch and, on PostgreSQL, the next batch it claimed ahead while working
 * through this one (worker.ts). None stays `running` under a lease that only its expiry would end.
 */

const homes: Home[] = [];
const cleanups: (() => void)[] = [];
afterEach(async () => {
  while (homes.length > 0) await homes.pop()!.close();
  while (cleanups.length > 0) cleanups.pop()!();
});

const FILES = 800;
const STOP_AFTER = 100;

async function setup(dialect: TestDialect) {
  const { dir, cleanup } = tempDir('archivist-ahead-');
  cleanups.push(cleanup);
  const archive = path.join(dir, 'archive');
  fs.mkdirSync(archive);
  for (let i = 0; i < FILES; i++) fs.writeFileSync(path.join(archive, `f${i}.txt`), `quick ${i}\n`);
  const { home } = await initHome(path.join(dir, 'home'), { databaseUrl: await dialect.newDatabase() });
  homes.push(home);
  const source = await addSource(home, 'a', archive);
  await catalogSource(home.db, source, { isJunk: makeJunkFilter(), hashConcurrency: 2 });
  const assets = await home.db.selectFrom('assets').select(['id', 'media_type']).execute();
  expect(assets).toHaveLength(FILES);
  const pipeline: PipelineDefinition = {
    name: 'quick',
    version: 1,
    description: 'does nothing, quickly',
    steps: [
      {
        name: 'noop',
        tool: { name: 'unit-tool', version: () => Promise.resolve('1') },
        artifactKind: 'none',
        mediaTypes: [...new Set(assets.map((a) => a.media_type))],
        params: z.object({}),
        run: () => Promise.resolve({ status: 'done', output: null }),
      },
    ],
  };
  const runId = await createRun(home.db, {
    pipeline,
    params: { noop: {} },
    toolVersions: { noop: { name: 'unit-tool', version: '1' } },
    collectionName: null,
    scope: {},
    assets: assets.map((a) => ({ id: a.id, mediaType: a.media_type })),
    policy: 'sandbox',
    minFree: { bytes: 0, spec: '0' },
    workers: 1,
    maxAttempts: 3,
    itemTimeoutMs: 60_000,
    force: false,
    seed: 1,
    parentRunId: null,
  });
  expect(await transitionRun(home.db, runId, ['queued'], 'running')).toBe(true);
  const run = await home.db.selectFrom('runs').selectAll().where('id', '=', runId).executeTakeFirstOrThrow();
  return { home, run, pipeline };
}

describeEachDialect('a worker stopped among quick items', (dialect) => {
  it('gives back what it claimed and did not do, without charging an attempt', async () => {
    const { home, run, pipeline } = await setup(dialect);
    const stop = new AbortController();
    let finished = 0;
    const why = await runWorkerLoop({
      home,
      run,
      pipeline,
      workerId: 'test-host:1',
      stop: stop.signal,
      abortWork: new AbortController().signal,
      send: (message: WorkerMessage) => {
        // A finished item is said alone, or with the claim of the next one when that follows at once
        // (which the worker then still does: the stop is seen before the next claim).
        const said = message.type === 'finished' || (message.type === 'claimed' && message.finished);
        if (said && ++finished === STOP_AFTER) stop.abort();
      },
      log: openRunLog(home.layout, run.id, 'worker'),
    });
    expect(why).toBe('stopped');

    const rows = await home.db
      .selectFrom('work_items')
      .select(['status', 'attempts', 'lease_owner'])
      .where('run_id', '=', run.id)
      .execute();
    const done = rows.filter((r) => r.status === 'done');
    const pending = rows.filter((r) => r.status === 'pending');
    // The items it finished, the one in hand when the stop came included, are done; none is lost.
    expect([STOP_AFTER, STOP_AFTER + 1]).toContain(finished);
    expect(done).toHaveLength(finished);
    expect(rows.filter((r) => r.status === 'running')).toEqual([]);
    expect(pending).toHaveLength(FILES - finished);
    expect(pending.every((r) => r.attempts === 0 && r.lease_owner === null)).toBe(true);
    // It held more than it did: batches grow while items are quick (and on PostgreSQL one is claimed
    // ahead), so what it gave back is what this test is about. How far they grow depends on how quick
    // the items were on this machine just then; that every one held and not done was given back does not.
    const [stats] = await workerStatsOfRun(home.db, run.id);
    expect(stats).toMatchObject({ worker: 'test-host:1', done: finished });
    expect(stats!.claimed).toBeGreaterThan(finished);
    expect(stats!.released).toBe(stats!.claimed - finished);
  });
});
