import { expect, it } from 'vitest';
import { describeEachDialect } from '../../helpers/postgres.js';
import { createFixture, fixturesPerTest } from './harness.js';
import type { RunJson } from './types.js';

/**
 * A step stuck in a loop that ignores every signal (a hung decoder): the per-item timeout of the home's
 * config kills its worker, the item fails with `timeout` after its attempts, and the run completes.
 */

const track = fixturesPerTest();

describeEachDialect('a hanging step', (dialect) => {
  it('fails the item with reason timeout and completes the run', async () => {
    const f = track(
      await createFixture({
        dialect: dialect.name,
        files: 3,
        extra: ['hang-marker.jpg'],
        config: (config) => {
          config.runs!.itemTimeoutSec = 2;
        },
      }),
    );
    const hang = await f.assetByPath('hang-marker.jpg');

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
    expect(run.itemTimeoutSec).toBe(2);
    expect(run.counts).toEqual({
      total: 8,
      pending: 0,
      running: 0,
      done: 6,
      failed: 1,
      skipped: 1,
      reused: 0,
    });
    expect(run.failures).toHaveLength(1);
    expect(run.failures[0]).toMatchObject({
      assetId: hang.id,
      path: 'archive:hang-marker.jpg',
      step: 'probe',
      reason: 'timeout',
      attempts: run.maxAttempts,
      message: `timeout ${run.maxAttempts} times`,
    });
    const after = f.items(run.id).find((item) => item.asset_id === hang.id && item.step === 'after')!;
    expect(after).toMatchObject({ status: 'skipped', reason: 'input-unavailable' });
    f.verify();
  });
});
