import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createFixture, waitUntilDead, type Fixture, type RunJson } from './harness.js';

/**
 * Drill D (PRODUCT section 6), second half, and "rerun only what failed" (section 3): valid but wrong
 * params are visible in the first results; the run is cancelled and retried with other params as a new
 * run linked to the old one; both stay listed and `run compare` shows what differed.
 */

interface Comparison {
  a: RunJson;
  b: RunJson;
  params: { key: string; a: unknown; b: unknown }[];
  toolVersions: { key: string; a: unknown; b: unknown }[];
  counts: Record<string, { a: number; b: number }>;
  failureReasons: Record<string, { a: number; b: number }>;
}

let fixture: Fixture | undefined;
afterEach(async () => {
  await fixture?.cleanup();
  fixture = undefined;
});

describe('drill D: retry with other params, and compare', () => {
  it('keeps both runs, links them, and shows the params difference', async () => {
    fixture = await createFixture({ files: 30 });
    const f = fixture;
    const content = (artifactPath: string) =>
      fs.readFileSync(path.join(f.home, 'artifacts', ...artifactPath.split('/')), 'utf8');

    const first = await f.startDetached('testsleep', [
      '--set',
      'write.size=16',
      '--set',
      'write.ms=500',
      '--workers',
      '2',
    ]);
    await f.waitFor(first.id, (run) => run.counts.done >= 2, 'the first results');
    // The tiny size is visible in the first partial results, while the run is still going.
    const early = f.artifacts(first.id);
    expect(early.length).toBeGreaterThanOrEqual(2);
    for (const artifact of early) expect(content(artifact.path)).toMatch(/ size=16 label=a\n$/);

    const cancelled = await f.json<RunJson>(['run', 'cancel', first.id]);
    expect(cancelled.status).toBe('cancelled');
    await waitUntilDead([first.coordinatorPid]);

    const retry = await f.cli([
      'run',
      'retry',
      first.id,
      '--set',
      'write.size=256',
      '--set',
      'write.ms=20',
      '--json',
    ]);
    expect(retry.code, retry.stderr).toBe(0);
    const second = JSON.parse(retry.stdout) as RunJson;
    expect(second.id).not.toBe(first.id);
    expect(second.parentRunId).toBe(first.id);
    expect(second.status).toBe('completed');
    // The old run's params are the base; only what was --set changes.
    expect(second.params).toEqual({ write: { ms: 20, size: 256, label: 'a' } });
    expect(second.policy).toBe('sandbox');
    expect(second.counts).toEqual({
      total: 30,
      pending: 0,
      running: 0,
      done: 30,
      failed: 0,
      skipped: 0,
      reused: 0,
    });
    for (const artifact of f.artifacts(second.id))
      expect(content(artifact.path)).toMatch(/ size=256 label=a\n$/);

    // Both runs remain, each as it ended.
    const list = await f.json<{ id: string; status: string; parentRunId: string | null }[]>(['run', 'list']);
    expect(list.map((r) => [r.id, r.status, r.parentRunId]).sort()).toEqual(
      [
        [first.id, 'cancelled', null],
        [second.id, 'completed', first.id],
      ].sort(),
    );
    const old = await f.show(first.id);
    expect(old.status).toBe('cancelled');
    expect(old.params).toEqual({ write: { ms: 500, size: 16, label: 'a' } });
    expect(f.artifacts(first.id).length).toBe(old.counts.done);

    const comparison = await f.json<Comparison>(['run', 'compare', first.id, second.id]);
    expect(comparison.a.id).toBe(first.id);
    expect(comparison.b.id).toBe(second.id);
    expect(comparison.params).toEqual([
      { key: 'write.ms', a: 500, b: 20 },
      { key: 'write.size', a: 16, b: 256 },
    ]);
    expect(comparison.toolVersions).toEqual([]);
    expect(comparison.counts.total).toEqual({ a: 30, b: 30 });
    expect(comparison.counts.done).toEqual({ a: old.counts.done, b: 30 });
    expect(comparison.failureReasons).toEqual({});
    const human = await f.cli(['run', 'compare', first.id, second.id]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/param write\.size\s+16\s+256/);
    expect(human.stdout).toContain('Params differ in write.ms, write.size.');
    f.verify();
  });

  it('--failed-only retries only the assets whose items failed', async () => {
    fixture = await createFixture({ files: 4, extra: ['fail-marker.jpg', 'fail-marker-2.jpg'] });
    const f = fixture;
    const failing = [
      (await f.assetByPath('fail-marker.jpg')).id,
      (await f.assetByPath('fail-marker-2.jpg')).id,
    ];

    const start = await f.cli(['run', 'start', 'testfault', '--collection', 'c', '--workers', '2', '--json']);
    expect(start.code, start.stderr).toBe(3);
    const first = JSON.parse(start.stdout) as RunJson;
    expect(first.counts).toEqual({
      total: 12,
      pending: 0,
      running: 0,
      done: 8,
      failed: 2,
      skipped: 2,
      reused: 0,
    });
    expect(first.failures.map((x) => x.assetId).sort()).toEqual([...failing].sort());

    const retry = await f.cli(['run', 'retry', first.id, '--failed-only', '--json']);
    // They fail again (the files did not change), so the retry also ends with failures.
    expect(retry.code, retry.stderr).toBe(3);
    const second = JSON.parse(retry.stdout) as RunJson & { scope: unknown };
    expect(second.parentRunId).toBe(first.id);
    expect(second.scope).toEqual({ retryOf: first.id, failedOnly: true });
    expect(second.counts).toEqual({
      total: 4,
      pending: 0,
      running: 0,
      done: 0,
      failed: 2,
      skipped: 2,
      reused: 0,
    });
    const assets = new Set(f.items(second.id).map((item) => item.asset_id));
    expect([...assets].sort()).toEqual([...failing].sort());
    expect(second.failures.map((x) => x.reason)).toEqual(['decode-error', 'decode-error']);

    const comparison = await f.json<Comparison>(['run', 'compare', first.id, second.id]);
    expect(comparison.params).toEqual([]);
    expect(comparison.failureReasons).toEqual({ 'decode-error': { a: 2, b: 2 } });
    f.verify();
  });
});
