import { describe, expect, it } from 'vitest';
import { compareRuns } from '../../src/runs/compare-runs.js';
import type { RunJson } from '../../src/runs/run-json.js';
import type { ItemOutcome } from '../../src/store/run-outcomes-repository.js';

/**
 * `run compare` compares like with like (issue 16): a run of 548 items and its retry of the 44 that
 * failed are compared on the 44 assets they share, and speed as time per item, never as throughput of
 * scopes of different sizes.
 */

function run(id: string, extra: Partial<RunJson>, meanMs: number, throughput: number): RunJson {
  return {
    id,
    status: 'completed',
    params: {},
    toolVersions: {},
    collection: 'everything',
    scope: {},
    failures: [],
    counts: { total: 0, pending: 0, running: 0, done: 0, failed: 0, skipped: 0, reused: 0 },
    stats: { throughputPerSec: throughput, steps: { thumbnail: { meanMs, p50Ms: meanMs, p95Ms: meanMs } } },
    ...extra,
  } as unknown as RunJson;
}

const items = (ids: number[], failed: Set<number>): ItemOutcome[] =>
  ids.map((n) => ({ assetId: `asset-${n}`, step: 'thumbnail', status: failed.has(n) ? 'failed' : 'done' }));

describe('compareRuns', () => {
  const all = Array.from({ length: 548 }, (_, n) => n);
  const failing = new Set(all.filter((n) => n % 12 === 0)); // 46 failed items in the first run

  it('judges a failed-only retry on the assets both covered, not on the share of the whole scope', () => {
    const first = run('r-first', {}, 80, 20);
    // The retry fails the same assets again, but its total is tiny, so its failed share of all is 100%.
    const retry = run('r-retry', { scope: { retryOf: 'r-first', failedOnly: true } }, 120, 2);
    const c = compareRuns(first, retry, {
      a: items(all, failing),
      b: items([...failing], failing),
    });
    expect(c.scope).toEqual({ a: 548, b: failing.size, shared: failing.size, same: false });
    expect(c.failedShareOnShared).toEqual({ a: 1, b: 1 });
    expect(c.moreReliable).toBeNull();
    expect(c.scopeLabels).toEqual({ a: 'collection everything', b: 'the failed items of run r-first' });
    expect(c.notes.join(' ')).toMatch(/scopes differ \(548 and 46 assets, 46 in common\)/);
    // Faster per item, though the first run's throughput is ten times the retry's for other reasons too.
    expect(c.msPerItem).toEqual({ a: 80, b: 120 });
    expect(c.faster).toBe('r-first');
  });

  it('uses time per item for speed: a small scope with a high start-up share is not slower for it', () => {
    const big = run('r-big', {}, 100, 10);
    const small = run('r-small', {}, 50, 4); // lower throughput (start-up dominates), faster per item
    const c = compareRuns(big, small, { a: items(all, new Set()), b: items([1, 2, 3], new Set([2])) });
    expect(c.faster).toBe('r-small');
    expect(c.moreReliable).toBe('r-big'); // on assets 1-3: none failed in r-big, one of three in r-small
  });

  it('names no winner where there is no common ground', () => {
    const c = compareRuns(run('r-a', {}, 10, 1), run('r-b', {}, 10, 1), {
      a: items([1, 2], new Set()),
      b: items([3, 4], new Set([3])),
    });
    expect(c.scope.shared).toBe(0);
    expect(c.moreReliable).toBeNull();
    expect(c.notes).toContain('No asset is in both runs, so neither can be called more reliable.');
  });
});
