import fs from 'node:fs';
import { expect, it } from 'vitest';
import { sha256 } from '../../helpers/media.js';
import { drillLog, expectCoreCompleted } from './core-expectations.js';
import { createRealFixture, DRILL_TIMEOUT_MS, expectNothingRedone, fixturesPerTest } from './harness.js';
import { describeEachDialect } from '../../helpers/postgres.js';
import { waitUntilDead } from './processes.js';
import type { AssetJson, RunJson } from './types.js';

/**
 * Drill B (PRODUCT section 6): `run cancel` in the middle of a real `core` run stops it within the cancel's
 * grace (the command returns once the run is `cancelled`), keeps what was committed, visible through
 * `asset` and findable through `assets --missing`, and leaves the rest pending; `run resume` finishes it
 * without redoing anything: the artifacts made before the cancel are the same rows and files afterwards.
 */

const track = fixturesPerTest({ realMedia: true });

describeEachDialect('drill B: cancel mid-run, then resume', (dialect) => {
  it(
    'keeps done items through the cancel and finishes the rest without redoing them',
    { timeout: DRILL_TIMEOUT_MS },
    async () => {
      const f = track(await createRealFixture({ dialect: dialect.name }));
      const { id, coordinatorPid } = await f.startDetached('core', ['--workers', '2']);
      await f.waitFor(id, (run) => run.counts.done >= 10, 'a few items done');

      const cancel = await f.cli(['run', 'cancel', id, '--json']);
      expect(cancel.code, cancel.stderr).toBe(0);
      const cancelled = JSON.parse(cancel.stdout) as RunJson;
      drillLog('B cancelled', cancelled);
      expect(cancelled.status).toBe('cancelled');
      expect(cancelled.statusReason).toBe('cancelled by the user');
      const { total, pending, running, done, failed, skipped } = cancelled.counts;
      expect(running).toBe(0);
      expect(done).toBeGreaterThanOrEqual(10);
      expect(pending).toBeGreaterThan(0);
      expect(pending + done + failed + skipped).toBe(total);
      // The coordinator and its workers are gone.
      await waitUntilDead([coordinatorPid]);
      expect(await f.show(id)).toMatchObject({ status: 'cancelled', counts: cancelled.counts });

      // What the cancel kept: each done item with its artifact, as rows and as files.
      const doneBefore = f.items(id).filter((item) => item.status === 'done');
      expect(doneBefore).toHaveLength(done);
      const artifactsBefore = f.artifacts(id);
      expect(artifactsBefore.map((a) => a.id).sort()).toEqual(doneBefore.map((i) => i.artifact_id).sort());
      const bytesBefore = new Map(
        artifactsBefore.map((a) => [a.id, sha256(fs.readFileSync(f.storeFile(a.path)))]),
      );
      // Released items do not carry an attempt for work they never finished.
      for (const item of f.items(id).filter((i) => i.status === 'pending')) expect(item.attempts).toBe(0);
      f.verify();

      // Partial results are real results: `asset` shows a thumbnail made before the cancel...
      const thumb = doneBefore.find((item) => item.step === 'thumbnail');
      if (!thumb) throw new Error('no thumbnail among the items done before the cancel');
      const rel = f.model.assets.get(thumb.asset_id)!.paths[0]!;
      const asset = await f.assetByPath(rel);
      expect(asset.artifacts.find((a) => a.step === 'thumbnail')).toMatchObject({
        id: thumb.artifact_id,
        runId: id,
        kind: 'thumbnail',
        mime: 'image/webp',
      });
      // ...and `assets --missing thumbnail` lists exactly the images and videos without one yet.
      const missing = await f.json<AssetJson[]>(['assets', '--missing', 'thumbnail']);
      const withThumbnail = new Set(doneBefore.filter((i) => i.step === 'thumbnail').map((i) => i.asset_id));
      const media = [...f.model.assets]
        .filter(([, a]) => a.mediaType !== 'sidecar')
        .map(([assetId]) => assetId);
      expect(missing.map((a) => a.id).sort()).toEqual(media.filter((m) => !withThumbnail.has(m)).sort());

      // A cancelled run is resumable; a second cancel of it changes nothing.
      expect((await f.json<RunJson>(['run', 'cancel', id])).status).toBe('cancelled');

      const resume = await f.cli(['run', 'resume', id, '--json']);
      // Exit 3: finished, with the archive's broken files failed.
      expect(resume.code, resume.stderr).toBe(3);
      const resumed = JSON.parse(resume.stdout) as RunJson;
      drillLog('B resumed', resumed);
      expect(resumed.id).toBe(id);
      expectCoreCompleted(resumed, f.model);

      const artifactsAfter = expectNothingRedone(
        f,
        id,
        { items: doneBefore, artifacts: artifactsBefore },
        resumed.counts.done,
      );
      for (const artifact of artifactsBefore) {
        expect(sha256(fs.readFileSync(f.storeFile(artifact.path)))).toBe(bytesBefore.get(artifact.id));
      }
      expect(new Set(artifactsAfter.map((a) => `${a.asset_id} ${a.step}`)).size).toBe(artifactsAfter.length);

      // Completed is final: neither resume nor cancel changes it.
      expect((await f.cli(['run', 'resume', id])).code).toBe(2);
      expect((await f.cli(['run', 'cancel', id])).code).toBe(2);
      expect((await f.show(id)).status).toBe('completed');
      f.verify();
      await f.expectNoProcessLeft();
    },
  );
});
