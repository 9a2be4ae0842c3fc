import { expect, it } from 'vitest';
import { describeEachDialect } from '../../helpers/postgres.js';
import { createFixture, fixturesPerTest } from './harness.js';
import type { RunJson } from './types.js';

/**
 * A worker's figures add up (run show, the API, the run page): what the workers claimed is what they
 * finished (done, failed attempts, skipped), gave back untouched, or had refused. A run whose workers
 * claim ahead, skip and fail items, and finish without a crash loses nothing between the columns.
 */

const track = fixturesPerTest();

describeEachDialect('the workers table', (dialect) => {
  it('accounts for every claim: done, failed, skipped, given back or refused', async () => {
    const f = track(
      await createFixture({
        dialect: dialect.name,
        files: 6,
        extra: ['skip-marker.jpg', 'fail-marker.jpg'],
      }),
    );
    const result = await f.cli([
      'run',
      'start',
      'testfault',
      '--collection',
      'c',
      '--workers',
      '2',
      '--json',
    ]);
    expect(result.code, result.stderr).toBe(3);
    const run = JSON.parse(result.stdout) as RunJson;
    expect(run.status).toBe('completed');
    const shown = await f.show(run.id);
    const sum = (key: 'claimed' | 'done' | 'failed' | 'skipped' | 'released' | 'refused') =>
      shown.workerStats.reduce((n, w) => n + w[key], 0);
    // The skip marker's probe was skipped by a worker; its `after` item was never claimed (no input).
    expect(sum('skipped')).toBe(1);
    expect(sum('done')).toBe(run.counts.done);
    expect(sum('failed')).toBeGreaterThanOrEqual(1);
    expect(sum('refused')).toBe(0);
    expect(sum('claimed')).toBe(
      sum('done') + sum('failed') + sum('skipped') + sum('released') + sum('refused'),
    );
    const human = await f.cli(['run', 'show', run.id]);
    expect(human.stdout).toMatch(/CLAIMED\s+DONE\s+FAILED\s+SKIPPED\s+GIVEN BACK\s+REFUSED/);
    f.verify();
  });
});
