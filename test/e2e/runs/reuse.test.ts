import { afterEach, describe, expect, it } from 'vitest';
import { createFixture, type Fixture, type RunJson } from './harness.js';

/**
 * Drill G (issue 6): the same archive cataloged and processed twice. The second production run finds
 * every artifact by its cache key and reuses it (all items `reused`), writing nothing new; `--force`
 * recomputes, and the recomputed artifacts become the current ones.
 */

let fixture: Fixture | undefined;
afterEach(async () => {
  await fixture?.cleanup();
  fixture = undefined;
});

const production = ['run', 'start', 'testsleep', '--collection', 'c', '--policy', 'production'];

describe('drill G: reuse', () => {
  it('reuses every artifact of an identical production run, and recomputes with --force', async () => {
    fixture = await createFixture({ files: 8 });
    const f = fixture;
    const start = async (extra: string[] = []) => {
      const result = await f.cli([
        ...production,
        '--set',
        'write.ms=20',
        '--workers',
        '2',
        ...extra,
        '--json',
      ]);
      expect(result.code, result.stderr).toBe(0);
      return JSON.parse(result.stdout) as RunJson;
    };

    const first = await start();
    expect(first.counts).toEqual({
      total: 8,
      pending: 0,
      running: 0,
      done: 8,
      failed: 0,
      skipped: 0,
      reused: 0,
    });
    const firstArtifacts = f.artifacts(first.id);
    expect(firstArtifacts).toHaveLength(8);
    // Production artifacts are the assets' current ones.
    for (const artifact of firstArtifacts) expect(artifact.is_current).toBe(1);
    const files = f.storeFiles();
    expect(files).toHaveLength(8);

    // Cataloged again (nothing changed), then processed again with the same params.
    const [rescan] = await f.json<{ unchanged: number; new: number }[]>(['catalog']);
    expect(rescan).toMatchObject({ unchanged: 8, new: 0 });
    const second = await start();
    expect(second.status).toBe('completed');
    expect(second.counts).toEqual({
      total: 8,
      pending: 0,
      running: 0,
      done: 8,
      failed: 0,
      skipped: 0,
      reused: 8,
    });
    for (const item of f.items(second.id)) {
      expect(item.reused).toBe(1);
      const original = firstArtifacts.find((a) => a.id === item.artifact_id);
      expect(original?.asset_id, `item ${item.id} points at the first run's artifact`).toBe(item.asset_id);
    }
    // Nothing new: no artifact rows, no files.
    expect(f.artifacts()).toEqual(firstArtifacts);
    expect(f.storeFiles()).toEqual(files);
    f.verify();

    const forced = await start(['--force']);
    expect(forced.force).toBe(true);
    expect(forced.counts).toEqual({
      total: 8,
      pending: 0,
      running: 0,
      done: 8,
      failed: 0,
      skipped: 0,
      reused: 0,
    });
    const forcedArtifacts = f.artifacts(forced.id);
    expect(forcedArtifacts).toHaveLength(8);
    for (const item of f.items(forced.id)) {
      expect(item.reused).toBe(0);
      expect(firstArtifacts.some((a) => a.id === item.artifact_id)).toBe(false);
    }
    // The same bytes again: the same content-addressed files, now the current artifacts.
    expect(f.storeFiles()).toEqual(files);
    for (const artifact of forcedArtifacts) expect(artifact.is_current).toBe(1);
    for (const artifact of f.artifacts(first.id)) expect(artifact.is_current).toBe(0);
    // As `asset --json` shows it: both artifacts with their runs, the recomputed one current.
    const asset = await f.assetByPath('img-000.jpg');
    expect(asset.artifacts.map((a) => [a.runId, a.current]).sort()).toEqual(
      [
        [first.id, false],
        [forced.id, true],
      ].sort(),
    );
    f.verify();
  });
});
