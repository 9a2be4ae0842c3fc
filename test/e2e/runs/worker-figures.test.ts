import { expect, it } from 'vitest';
import { describeEachDialect } from '../../helpers/postgres.js';
import { createFixture, fixturesPerTest } from './harness.js';
import { pollFor } from './processes.js';
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

  it('skips the dependents of a skipped item at once, and the run completes', async () => {
    // One worker, no failure anywhere: only the skip can sweep the `after` item that needs the probe.
    const f = track(await createFixture({ dialect: dialect.name, files: 2, extra: ['skip-marker.jpg'] }));
    const { id } = await f.startDetached('testfault', ['--workers', '1']);
    // Bounded: before the fix the `after` item stayed pending for ever and the worker waited on it.
    const run = await pollFor('the run to end', async () => {
      const shown = await f.show(id);
      // Queued until its coordinator takes it, then running: neither is an end.
      return ['queued', 'running'].includes(shown.status) ? undefined : shown;
    });
    expect(run.status).toBe('completed');
    const items = f.items(id);
    const marked = f.query<{ id: string }>(
      "select a.id from assets a join locations l on l.asset_id = a.id where l.path like '%skip-marker.jpg'",
    );
    expect(marked).toHaveLength(1);
    const ofMarked = items.filter((i) => i.asset_id === marked[0]!.id);
    expect(ofMarked.map((i) => [i.step, i.status, i.reason]).sort()).toEqual([
      ['after', 'skipped', 'input-unavailable'],
      ['probe', 'skipped', 'not-for-this-step'],
    ]);
    expect(items.filter((i) => i.asset_id !== marked[0]!.id).every((i) => i.status === 'done')).toBe(true);
    f.verify();
  });
});
