import fs from 'node:fs';
import { expect, it } from 'vitest';
import { describeEachDialect } from '../../helpers/postgres.js';
import { drillLog, expectCoreCompleted, isCameraJpeg } from './core-expectations.js';
import { createRealFixture, DRILL_TIMEOUT_MS, fixturesPerTest } from './harness.js';
import type { RunJson } from './types.js';

/**
 * Drill G (issue 6): the same real archive cataloged and processed twice. The second production run of
 * `core` finds every artifact by its cache key and reuses it (every done item `reused`), writing nothing
 * new: no artifact row, no file. `--force` recomputes, and the recomputed artifacts become the current ones.
 */

const track = fixturesPerTest({ realMedia: true });

const readJson = (file: string): unknown => JSON.parse(fs.readFileSync(file, 'utf8'));

describeEachDialect('drill G: run it twice', (dialect) => {
  it(
    'reuses every artifact of an identical production run, and recomputes with --force',
    { timeout: DRILL_TIMEOUT_MS },
    async () => {
      const f = track(await createRealFixture({ dialect: dialect.name }));
      const start = async (extra: string[] = []) => {
        const result = await f.cli([
          'run',
          'start',
          'core',
          '--collection',
          'c',
          '--policy',
          'production',
          '--workers',
          '2',
          ...extra,
          '--json',
        ]);
        // Exit 3: finished, with the archive's broken files failed (every time: failures are not cached).
        expect(result.code, result.stderr).toBe(3);
        return JSON.parse(result.stdout) as RunJson;
      };

      const first = await start();
      drillLog('G first production run', first);
      expectCoreCompleted(first, f.model);
      const firstArtifacts = f.artifacts(first.id);
      expect(firstArtifacts).toHaveLength(first.counts.done);
      // Production artifacts are the assets' current ones.
      for (const artifact of firstArtifacts) expect(artifact.is_current).toBe(1);
      const files = f.storeFiles();
      expect(files.length).toBeGreaterThan(0);

      // Cataloged again (nothing changed, nothing read), then processed again with the same params.
      const [rescan] = await f.json<{ unchanged: number; new: number; hashed: number }[]>(['catalog']);
      expect(rescan).toMatchObject({ unchanged: f.model.locations, new: 0, hashed: 0 });
      const second = await start();
      drillLog('G second production run', second);
      expectCoreCompleted(second, f.model, { reused: first.counts.done });
      expect(second.counts.reused).toBe(second.counts.done);
      for (const item of f.items(second.id).filter((i) => i.status === 'done')) {
        expect(item.reused, `item ${item.id}`).toBe(1);
        const original = firstArtifacts.find((a) => a.id === item.artifact_id);
        expect(original, `item ${item.id} points at the first run's artifact`).toMatchObject({
          asset_id: item.asset_id,
          step: item.step,
        });
      }
      // Nothing new: no artifact rows, no files.
      expect(f.artifacts()).toEqual(firstArtifacts);
      expect(f.storeFiles()).toEqual(files);
      f.verify();

      const forced = await start(['--force']);
      drillLog('G forced run', forced);
      expect(forced.force).toBe(true);
      expectCoreCompleted(forced, f.model);
      const forcedArtifacts = f.artifacts(forced.id);
      expect(forcedArtifacts).toHaveLength(forced.counts.done);
      for (const item of f.items(forced.id).filter((i) => i.status === 'done')) {
        expect(item.reused).toBe(0);
        expect(firstArtifacts.some((a) => a.id === item.artifact_id)).toBe(false);
      }
      // The same tools on the same bytes make the same thumbnails (the same content-addressed files) and
      // the same metadata. Not always the same metadata bytes: exiftool lists its Composite tags in Perl
      // hash order, which differs from one exiftool process to the next (reported; compared parsed here).
      for (const artifact of forcedArtifacts) {
        const earlier = firstArtifacts.find(
          (a) => a.asset_id === artifact.asset_id && a.step === artifact.step,
        )!;
        if (artifact.step === 'thumbnail') expect(artifact.path).toBe(earlier.path);
        else expect(readJson(f.storeFile(artifact.path))).toEqual(readJson(f.storeFile(earlier.path)));
      }
      expect(f.storeFiles().filter((file) => file.endsWith('.webp'))).toEqual(
        files.filter((file) => file.endsWith('.webp')),
      );
      for (const artifact of forcedArtifacts) expect(artifact.is_current).toBe(1);
      for (const artifact of f.artifacts(first.id)) expect(artifact.is_current).toBe(0);
      // As `asset --json` shows it: both runs' artifacts, the recomputed ones current.
      const rel = [...f.model.assets.values()].flatMap((a) => a.paths).find(isCameraJpeg)!;
      const asset = await f.assetByPath(rel);
      expect(asset.artifacts.map((a) => [a.step, a.runId, a.current]).sort()).toEqual(
        [
          ['metadata', first.id, false],
          ['metadata', forced.id, true],
          ['thumbnail', first.id, false],
          ['thumbnail', forced.id, true],
        ].sort(),
      );
      f.verify();
      await f.expectNoProcessLeft();
    },
  );
});
