import os from 'node:os';
import { expect, it } from 'vitest';
import { drillLog, expectCoreCompleted, knownFailingAssets } from './core-expectations.js';
import { createRealFixture, DRILL_TIMEOUT_MS, fixturesPerTest } from './harness.js';
import { describeEachDialect } from '../../helpers/postgres.js';
import { catchWorkerMidItem, runsExiftool } from './mid-item.js';
import { waitUntilDead } from './processes.js';
import type { LineageRow } from './types.js';

/**
 * Drill A (PRODUCT section 6): `kill -9` one worker process of a real `core` run, in the middle of an
 * item. The item is charged the attempt (`worker-crashed`), retried by the replacement worker and done;
 * what was committed before the kill stays as it was; the run completes with every item accounted for:
 * done, or failed with the reason each broken file of the archive must give, and no artifact twice.
 */

const track = fixturesPerTest({ realMedia: true });

describeEachDialect('drill A: a worker killed with SIGKILL mid-run', (dialect) => {
  it(
    'retries the killed item, keeps what was written, and accounts for every item',
    { timeout: DRILL_TIMEOUT_MS },
    async () => {
      const f = track(await createRealFixture({ dialect: dialect.name }));
      const known = knownFailingAssets(f.model);
      const host = os.hostname();
      const { id, coordinatorPid } = await f.startDetached('core', ['--workers', '2']);

      // The victim: a worker waiting for its ffmpeg/ffprobe on a good video, killed right there. One that
      // has its exiftool running already, as a worker has from its first metadata item on: the drill then
      // also shows whether a killed worker's tools die with it.
      const victim = await catchWorkerMidItem(
        f,
        coordinatorPid,
        (held, worker) =>
          held.length > 0 && held.every((i) => !known.has(i.asset_id)) && runsExiftool(worker),
        (worker) => process.kill(worker, 'SIGKILL'),
      );
      await waitUntilDead([victim.worker]);
      // Committed before the kill: these rows must come through unchanged.
      const before = f.artifacts(id);
      // Coverage adds up at any moment: done, pending, running, failed and skipped make the total.
      const mid = await f.show(id);
      const { total, pending, running, done, failed, skipped } = mid.counts;
      expect(pending + running + done + failed + skipped).toBe(total);

      const run = await f.waitFor(id, (r) => r.status === 'completed', 'the run to complete');
      drillLog('A worker killed', run);
      expectCoreCompleted(run, f.model);
      expect(run.stats.workerCrashes).toBe(1);
      await waitUntilDead([coordinatorPid]);

      // The coordinator saw the kill and charged it to the item in flight, one of those the victim held.
      const died = f.runLog(id).filter((line) => line.event === 'worker-died');
      expect(died).toHaveLength(1);
      expect(died[0]).toMatchObject({
        worker: `${host}:${victim.worker}`,
        signal: 'SIGKILL',
        timeout: false,
      });
      const chargedId = died[0]!.itemId as number;
      expect(victim.held.map((i) => i.id)).toContain(chargedId);

      const items = f.items(id);
      const charged = items.find((item) => item.id === chargedId)!;
      expect(f.model.assets.get(charged.asset_id)?.mediaType).toBe('video');
      // Counted at claim time: the killed attempt and the one that succeeded.
      expect(charged).toMatchObject({ status: 'done', attempts: 2 });
      for (const item of items.filter((i) => i.id !== chargedId)) {
        expect(item.attempts, `item ${item.id} (${item.status})`).toBe(item.status === 'skipped' ? 0 : 1);
      }

      // One artifact per done item, none twice, the earlier ones untouched.
      const after = f.artifacts(id);
      expect(after).toHaveLength(run.counts.done);
      expect(new Set(after.map((a) => `${a.asset_id} ${a.step}`)).size).toBe(after.length);
      const doneItems = items.filter((i) => i.status === 'done');
      expect(new Set(doneItems.map((i) => i.artifact_id))).toEqual(new Set(after.map((a) => a.id)));
      for (const artifact of before) expect(after).toContainEqual(artifact);
      // The retried item was finished by a live worker, not by the one that was killed.
      const [lineage] = f.query<LineageRow>(
        'select * from lineage where artifact_id = ?',
        charged.artifact_id,
      );
      expect(lineage!.worker).not.toBe(`${host}:${victim.worker}`);
      f.verify();
      // Nothing outlives the run: not the workers, nor the tools the killed worker had started.
      await f.expectNoProcessLeft();
    },
  );
});
