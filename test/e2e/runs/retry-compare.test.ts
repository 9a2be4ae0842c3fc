import { expect, it } from 'vitest';
import { describeEachDialect } from '../../helpers/postgres.js';
import {
  drillLog,
  expectCoreCompleted,
  failuresOf,
  imageFacts,
  isCameraJpeg,
  KNOWN_FAILURES,
  knownFailingAssets,
} from './core-expectations.js';
import { createRealFixture, DRILL_TIMEOUT_MS, fixturesPerTest } from './harness.js';
import { waitUntilDead } from './processes.js';
import type { RunJson } from './types.js';

/**
 * Drill D (PRODUCT section 6) on a real `core` run, and "rerun only what failed" (section 3): invalid
 * params are refused before anything is written; valid but wrong params (16-pixel thumbnails) are visible
 * in the first results; the run is cancelled and retried with other params as a new run linked to the
 * old one; both stay, with their own artifacts, and `run compare` shows what differed.
 */

interface Comparison {
  a: RunJson;
  b: RunJson;
  scope: { a: number; b: number; shared: number; same: boolean };
  scopeLabels: { a: string; b: string };
  moreReliable: string | null;
  notes: string[];
  params: { key: string; a: unknown; b: unknown }[];
  toolVersions: { key: string; a: unknown; b: unknown }[];
  counts: Record<string, { a: number; b: number }>;
  failureReasons: Record<string, { a: number; b: number }>;
}

const track = fixturesPerTest({ realMedia: true });

const DEFAULTS = { size: 256, quality: 80, format: 'webp', position: 0.1 };

const reasonCounts = (run: RunJson) => {
  const counts: Record<string, number> = {};
  for (const failure of run.failures) counts[failure.reason] = (counts[failure.reason] ?? 0) + 1;
  return counts;
};

describeEachDialect('drill D: bad params, then retry with other params, and compare', (dialect) => {
  it(
    'refuses invalid params, shows wrong ones early, keeps both runs and compares them',
    { timeout: DRILL_TIMEOUT_MS },
    async () => {
      const f = track(await createRealFixture({ dialect: dialect.name }));

      const refused: [string, RegExp][] = [
        ['thumbnail.size=abc', /thumbnail\.size="abc": Invalid input: expected number/],
        [
          'thumbnail.nope=1',
          /thumbnail\.nope=1: step "thumbnail" has no param "nope"\n.*size, quality, format, position/,
        ],
        ['thumbnail.size=8', /thumbnail\.size=8: Too small: expected number to be >=16/],
        ['thumbnail.size=99999', /thumbnail\.size=99999: Too big: expected number to be <=4096/],
      ];
      for (const [set, message] of refused) {
        const result = await f.cli(['run', 'start', 'core', '--collection', 'c', '--set', set]);
        expect(result.code, `--set ${set}: ${result.stderr}`).toBe(2);
        expect(result.stderr).toMatch(message);
      }
      // Refused before anything was written: no run, no item, no artifact.
      expect(await f.json<unknown[]>(['run', 'list'])).toEqual([]);
      expect(f.query('select id from runs')).toEqual([]);
      expect(f.query('select id from work_items')).toEqual([]);
      expect(f.storeFiles()).toEqual([]);

      const first = await f.startDetached('core', ['--set', 'thumbnail.size=16', '--workers', '2']);
      await f.waitFor(first.id, (run) => run.steps.thumbnail!.done >= 2, 'the first thumbnails');
      // The tiny size is visible in the first partial results, while the run is still going: in the
      // lineage, and in the pixels of the stored file.
      const early = f.items(first.id).find((i) => i.step === 'thumbnail' && i.status === 'done')!;
      const earlyPath = f.model.assets.get(early.asset_id)!.paths[0]!;
      const earlyAsset = await f.assetByPath(earlyPath);
      const tiny = earlyAsset.artifacts.find((a) => a.step === 'thumbnail')!;
      expect(tiny).toMatchObject({ id: early.artifact_id, runId: first.id, mime: 'image/webp' });
      expect(tiny.lineage.params).toEqual({ ...DEFAULTS, size: 16 });
      const tinyFacts = await imageFacts(tiny.path);
      expect(tinyFacts.format).toBe('webp');
      expect(Math.max(tinyFacts.width, tinyFacts.height)).toBe(16);

      const cancelled = await f.json<RunJson>(['run', 'cancel', first.id]);
      expect(cancelled.status).toBe('cancelled');
      await waitUntilDead([first.coordinatorPid]);
      const old = await f.show(first.id);
      drillLog('D first (size 16), cancelled', old);

      const retry = await f.cli(['run', 'retry', first.id, '--set', 'thumbnail.size=256', '--json']);
      expect(retry.code, retry.stderr).toBe(3);
      const second = JSON.parse(retry.stdout) as RunJson;
      drillLog('D retry (size 256)', second);
      expect(second.id).not.toBe(first.id);
      expect(second.parentRunId).toBe(first.id);
      // The old run's params are the base; only what was --set changes.
      expect(second.params).toEqual({ metadata: {}, thumbnail: DEFAULTS });
      expect(second.policy).toBe('sandbox');
      // The metadata the first run made is identical work: reused, not recomputed.
      const firstMetadata = f.items(first.id).filter((i) => i.step === 'metadata' && i.status === 'done');
      expectCoreCompleted(second, f.model, { reused: firstMetadata.length });

      // Both runs remain, each as it ended, each with its own thumbnails.
      const list = await f.json<{ id: string; status: string; parentRunId: string | null }[]>([
        'run',
        'list',
      ]);
      expect(list.map((r) => [r.id, r.status, r.parentRunId]).sort()).toEqual(
        [
          [first.id, 'cancelled', null],
          [second.id, 'completed', first.id],
        ].sort(),
      );
      expect(old.params).toEqual({ metadata: {}, thumbnail: { ...DEFAULTS, size: 16 } });
      expect(f.artifacts(first.id)).toHaveLength(old.counts.done);
      const both = await f.assetByPath(earlyPath);
      const thumbnails = both.artifacts.filter((a) => a.step === 'thumbnail');
      expect(thumbnails.map((a) => [a.runId, a.lineage.params.size]).sort()).toEqual(
        [
          [first.id, 16],
          [second.id, 256],
        ].sort(),
      );
      for (const rel of [...f.model.assets.values()]
        .flatMap((a) => a.paths)
        .filter(isCameraJpeg)
        .slice(0, 3)) {
        const asset = await f.assetByPath(rel);
        const facts = await imageFacts(
          asset.artifacts.find((a) => a.runId === second.id && a.step === 'thumbnail')!.path,
        );
        expect(Math.max(facts.width, facts.height), rel).toBe(256);
      }

      const comparison = await f.json<Comparison>(['run', 'compare', first.id, second.id]);
      expect(comparison.a.id).toBe(first.id);
      expect(comparison.b.id).toBe(second.id);
      expect(comparison.params).toEqual([{ key: 'thumbnail.size', a: 16, b: 256 }]);
      expect(comparison.toolVersions).toEqual([]);
      expect(comparison.counts.total).toEqual({ a: 2 * f.model.assets.size, b: 2 * f.model.assets.size });
      expect(comparison.counts.done).toEqual({ a: old.counts.done, b: second.counts.done });
      expect(comparison.counts.reused).toEqual({ a: 0, b: firstMetadata.length });
      const [ra, rb] = [reasonCounts(old), reasonCounts(second)];
      expect(comparison.failureReasons).toEqual(
        Object.fromEntries(
          [...new Set([...Object.keys(ra), ...Object.keys(rb)])].map((r) => [
            r,
            { a: ra[r] ?? 0, b: rb[r] ?? 0 },
          ]),
        ),
      );
      const human = await f.cli(['run', 'compare', first.id, second.id]);
      expect(human.code).toBe(0);
      expect(human.stdout).toMatch(/param thumbnail\.size\s+16\s+256/);
      expect(human.stdout).toContain('Params differ in thumbnail.size.');
      f.verify();

      // Rerun only what failed: a third run over the assets whose items failed, and nothing else.
      const failedOnly = await f.cli(['run', 'retry', second.id, '--failed-only', '--json']);
      // They fail again (the files did not change), so this retry also ends with failures.
      expect(failedOnly.code, failedOnly.stderr).toBe(3);
      const third = JSON.parse(failedOnly.stdout) as RunJson & { scope: unknown };
      drillLog('D failed-only retry', third);
      expect(third.parentRunId).toBe(second.id);
      expect(third.scope).toEqual({ retryOf: second.id, failedOnly: true });
      const failing = knownFailingAssets(f.model);
      expect(new Set(f.items(third.id).map((i) => i.asset_id))).toEqual(failing);
      // Both steps of each failing asset; the one that had worked (the truncated JPEG's metadata) is reused.
      const worked = failing.size * 2 - KNOWN_FAILURES.length;
      expect(third.counts).toEqual({
        total: failing.size * 2,
        pending: 0,
        running: 0,
        done: worked,
        failed: KNOWN_FAILURES.length,
        skipped: 0,
        reused: worked,
      });
      expect(failuresOf(third)).toEqual(failuresOf(second));
      const again = await f.json<Comparison>(['run', 'compare', second.id, third.id]);
      expect(again.params).toEqual([]);
      expect(again.failureReasons).toEqual({ 'decode-error': { a: 3, b: 3 }, 'no-metadata': { a: 2, b: 2 } });
      // Like with like: the retry covers only the failing assets, and on those both runs failed alike.
      expect(again.scope).toEqual({
        a: f.model.assets.size,
        b: failing.size,
        shared: failing.size,
        same: false,
      });
      expect(again.scopeLabels.b).toBe(`the failed items of run ${second.id}`);
      expect(again.moreReliable).toBeNull();
      const againHuman = await f.cli(['run', 'compare', second.id, third.id]);
      expect(againHuman.stdout).toContain(`the failed items of run ${second.id}`);
      expect(againHuman.stdout).toMatch(/The scopes differ \(\d+ and \d+ assets, \d+ in common\)/);
      f.verify();
      await f.expectNoProcessLeft();
    },
  );
});
