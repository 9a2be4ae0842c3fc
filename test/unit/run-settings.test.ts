import { createHash } from 'node:crypto';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, expect, it } from 'vitest';
import { z } from 'zod';
import { initHome, type Home } from '../../src/home/home.js';
import type { StepDefinition } from '../../src/pipeline/step.js';
import { claimWorkItem } from '../../src/runs/claim-work-item.js';
import { createRun } from '../../src/runs/create-run.js';
import { PendingCompletions } from '../../src/runs/pending-completions.js';
import { OutcomeRecorder } from '../../src/runs/record-outcome.js';
import { getRun, transitionRun } from '../../src/store/runs-repository.js';
import { tempDir } from '../helpers/cli.js';
import { describeEachDialect } from '../helpers/postgres.js';

/**
 * Issue 12: a run's settings that decide what its results are come from the run, not from the config of
 * whichever host works on it. A sandbox run made with a retention of 2 days gives its artifacts that
 * expiry even when the worker's home says 7 (another host, another config.json).
 */

const homes: Home[] = [];
const cleanups: (() => void)[] = [];
afterEach(async () => {
  while (homes.length > 0) await homes.pop()!.close();
  while (cleanups.length > 0) cleanups.pop()!();
});

const DAY_MS = 86_400_000;

describeEachDialect('run settings recorded on the run', (dialect) => {
  it("a sandbox artifact expires by the run's retention, not the worker's config", async () => {
    const { dir, cleanup } = tempDir('archivist-run-settings-');
    cleanups.push(cleanup);
    const { home } = await initHome(path.join(dir, 'home'), { databaseUrl: await dialect.newDatabase() });
    homes.push(home);
    expect(home.config.runs.sandboxRetentionDays).toBe(7); // this "host"'s own config
    const assetId = createHash('sha256').update(`settings ${dir}`).digest('hex');
    await home.db
      .insertInto('assets')
      .values({
        id: assetId,
        size: 1,
        media_type: 'image',
        mime: 'image/jpeg',
        first_seen_at: new Date().toISOString(),
      })
      .execute();
    const step: StepDefinition = {
      name: 'a',
      tool: { name: 'unit-tool', version: () => Promise.resolve('1') },
      artifactKind: 'a',
      mediaTypes: ['image'],
      params: z.object({}),
      run: () => Promise.resolve({ status: 'done', output: null }),
    };
    const pipeline = { name: 'unit', version: 1, description: 'unit', steps: [step] };
    const runId = await createRun(home.db, {
      pipeline,
      params: { a: {} },
      toolVersions: { a: { name: 'unit-tool', version: '1' } },
      collectionName: null,
      scope: {},
      assets: [{ id: assetId, mediaType: 'image' }],
      policy: 'sandbox',
      minFree: { bytes: 0, spec: '0' },
      workers: 1,
      maxAttempts: 3,
      itemTimeoutMs: 60_000,
      sandboxRetentionDays: 2, // the config of the host that made the run
      force: false,
      seed: 1,
      parentRunId: null,
    });
    expect(await transitionRun(home.db, runId, ['queued'], 'running')).toBe(true);
    const run = await getRun(home.db, runId);
    expect(run.sandbox_retention_days).toBe(2);
    const claim = await claimWorkItem(home.db, { runId, owner: 'w', leaseMs: 60_000, needs: {}, limit: 1 });
    if (claim.kind !== 'claimed') throw new Error(`expected a claim, got ${claim.kind}`);
    const log = pino({ level: 'silent' });
    const completions = new PendingCompletions(home.db, home.layout, 'w', log);
    const context = {
      home,
      run,
      pipeline,
      workerId: 'w',
      stop: new AbortController().signal,
      abortWork: new AbortController().signal,
      send: () => undefined,
      log,
    };
    const recorder = new OutcomeRecorder(context, completions, { a: [] });
    const asset = await home.db
      .selectFrom('assets')
      .selectAll()
      .where('id', '=', assetId)
      .executeTakeFirstOrThrow();
    const job = {
      item: claim.item,
      plan: { step, tool: { name: 'unit-tool', version: '1' }, params: {}, needs: [], readsSidecars: false },
      asset,
      inputs: [],
      sidecars: [],
      cacheKey: 'settings-key',
      started: Date.now(),
      abort: new AbortController(),
    };
    const before = Date.now();
    const output = { bytes: Buffer.from('result'), mime: 'text/plain', extension: 'txt' };
    expect(await recorder.done(job, null, output, undefined)).toBe('done');
    await completions.flush();
    const artifact = await home.db
      .selectFrom('artifacts')
      .select(['expires_at', 'policy'])
      .where('run_id', '=', runId)
      .executeTakeFirstOrThrow();
    expect(artifact.policy).toBe('sandbox');
    const expiresIn = Date.parse(artifact.expires_at!) - before;
    expect(expiresIn).toBeGreaterThan(1.9 * DAY_MS);
    expect(expiresIn).toBeLessThan(2.1 * DAY_MS);
  });
});
