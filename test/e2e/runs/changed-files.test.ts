import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { archiveManifest } from '../../helpers/archive-manifest.js';
import { REPO_ROOT, runCli, runCliJson, tempDir } from '../../helpers/cli.js';
import { catalogedHome, describeEachDialect } from '../../helpers/postgres.js';
import type { RunJson } from './types.js';

/**
 * Drill J (PRODUCT section 6): a file replaced by a symlink, one replaced by a FIFO and one edited after
 * the catalog fail at once (`not-a-regular-file`, `source-changed`), on their first attempt, with nothing
 * made from them; the untouched file is done; the run leaves the archive exactly as it found it. On both
 * dialects: the catalog's facts the steps check the file against come from the truth store.
 */

const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'media');
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

describeEachDialect('drill J: files changed after the catalog', (dialect) => {
  it('a symlink, a FIFO and an edited file fail at once; nothing is made from them', async () => {
    const { dir: root, cleanup } = tempDir('archivist-changed-files-');
    cleanups.push(cleanup);
    const archive = path.join(root, 'archive');
    const home = path.join(root, 'home');
    fs.mkdirSync(archive);
    fs.copyFileSync(path.join(FIXTURES, 'jpg', 'Canon_40D.jpg'), path.join(archive, 'camera.jpg'));
    fs.copyFileSync(path.join(FIXTURES, 'jpg', 'Nikon_D70.jpg'), path.join(archive, 'edited.jpg'));
    fs.copyFileSync(path.join(FIXTURES, 'videos', 'landscape_h264.mp4'), path.join(archive, 'clip.mp4'));
    fs.copyFileSync(path.join(FIXTURES, 'jpg', 'Canon_40D.jpg'), path.join(archive, 'untouched.jpg'));
    fs.appendFileSync(path.join(archive, 'untouched.jpg'), 'another asset'); // its own bytes
    await catalogedHome(dialect, home, archive);

    const outside = path.join(root, 'outside.jpg');
    fs.copyFileSync(path.join(FIXTURES, 'jpg', 'Nikon_D70.jpg'), outside);
    fs.rmSync(path.join(archive, 'camera.jpg'));
    fs.symlinkSync(outside, path.join(archive, 'camera.jpg'));
    fs.rmSync(path.join(archive, 'clip.mp4'));
    execFileSync('mkfifo', [path.join(archive, 'clip.mp4')]);
    fs.appendFileSync(path.join(archive, 'edited.jpg'), 'edited');
    const before = archiveManifest(archive);

    // A FIFO with no writer would block a reader forever: the run ending at all shows nothing opened it
    // for reading (the test's own timeout is the bound, not a wall-clock threshold).
    const result = await runCli(['run', 'start', 'core', '--collection', 'all', '--workers', '1', '--json'], {
      home,
    });
    const run = JSON.parse(result.stdout) as RunJson;
    expect(result.code).toBe(3);
    const reasons = new Map(
      run.failures.map((f) => [`${(f.path ?? '').replace(/^archive:/, '')} ${f.step}`, f]),
    );
    for (const step of ['metadata', 'thumbnail']) {
      expect(reasons.get(`camera.jpg ${step}`)).toMatchObject({ reason: 'not-a-regular-file', attempts: 1 });
      expect(reasons.get(`camera.jpg ${step}`)!.message).toMatch(/is a symlink now/);
      expect(reasons.get(`clip.mp4 ${step}`)).toMatchObject({ reason: 'not-a-regular-file', attempts: 1 });
      expect(reasons.get(`edited.jpg ${step}`)).toMatchObject({ reason: 'source-changed', attempts: 1 });
      expect(reasons.get(`edited.jpg ${step}`)!.message).toMatch(/archivist catalog/);
    }
    expect(reasons.size).toBe(6);
    expect(run.counts.done).toBe(2); // the untouched file's two items, and nothing else
    // Nothing made from a changed file: its asset (by id: `camera.jpg` is a symlink to outside the
    // source now) has no artifact of this run.
    for (const name of ['camera.jpg', 'clip.mp4', 'edited.jpg']) {
      const { assetId } = reasons.get(`${name} metadata`)!;
      const asset = await runCliJson<{ artifacts: { runId: string }[] }>(['asset', assetId], { home });
      expect(asset.artifacts.filter((a) => a.runId === run.id)).toEqual([]);
    }
    expect(archiveManifest(archive)).toEqual(before);
  }, 120_000);
});
