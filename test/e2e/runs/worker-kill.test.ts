import os from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import {
  childPids,
  createFixture,
  isAlive,
  pollFor,
  waitUntilDead,
  type Fixture,
  type ItemRow,
  type LineageRow,
} from './harness.js';

/**
 * Drill A (PRODUCT section 6): `kill -9` one worker process mid-run. Its item is released at once with
 * `worker-crashed`, retried by another worker, and the run completes with every item done, one artifact
 * per item, and the crashed attempt counted.
 */

let fixture: Fixture | undefined;
afterEach(async () => {
  await fixture?.cleanup();
  fixture = undefined;
});

describe('drill A: a worker killed with SIGKILL mid-run', () => {
  it('completes the run with every item done, no duplicate artifacts, and the attempt counted', async () => {
    fixture = await createFixture({ files: 30 });
    const f = fixture;
    const { id, coordinatorPid } = await f.startDetached('testsleep', [
      '--set',
      'write.ms=400',
      '--workers',
      '2',
    ]);
    await f.waitFor(id, (run) => run.counts.done >= 3, 'a few items done');

    // The victim: a worker (a child of the coordinator) that has just claimed an item, so the kill lands
    // while its step is working on it rather than between two items.
    const host = os.hostname();
    const victim = await pollFor('a worker in the middle of an item', () => {
      const workers = childPids(coordinatorPid).filter(isAlive);
      const running = f.query<ItemRow>(
        "select * from work_items where run_id = ? and status = 'running' order by started_at desc",
        id,
      );
      for (const item of running) {
        const pid = workers.find((p) => item.lease_owner === `${host}:${p}`);
        if (pid !== undefined && Date.now() - Date.parse(item.started_at!) < 100) return { pid, item };
      }
      return undefined;
    });
    expect(victim.item.attempts).toBe(1);
    process.kill(victim.pid, 'SIGKILL');
    await waitUntilDead([victim.pid]);

    const run = await f.waitFor(id, (r) => r.status === 'completed', 'the run to complete');
    expect(run.counts).toEqual({
      total: 30,
      pending: 0,
      running: 0,
      done: 30,
      failed: 0,
      skipped: 0,
      reused: 0,
    });
    expect(run.failures).toEqual([]);
    expect(run.stats.workerCrashes).toBe(1);
    await waitUntilDead([coordinatorPid]);

    const items = f.items(id);
    const killed = items.find((item) => item.id === victim.item.id)!;
    // Counted at claim time: the killed attempt and the one that succeeded.
    expect(killed.status).toBe('done');
    expect(killed.attempts).toBe(2);
    for (const item of items.filter((i) => i.id !== victim.item.id)) {
      expect(item.status).toBe('done');
      expect(item.attempts, `item ${item.id} was not retried`).toBe(1);
    }

    // One artifact per item: no duplicates from the killed attempt.
    const artifacts = f.artifacts(id);
    expect(artifacts).toHaveLength(30);
    expect(new Set(artifacts.map((a) => `${a.run_id} ${a.asset_id} ${a.step}`)).size).toBe(30);
    expect(new Set(items.map((i) => i.artifact_id)).size).toBe(30);
    for (const item of items) {
      const artifact = artifacts.find((a) => a.id === item.artifact_id);
      expect(artifact?.asset_id).toBe(item.asset_id);
    }
    // The item was finished by a live worker, not by the one that was killed.
    const [lineage] = f.query<LineageRow>('select * from lineage where artifact_id = ?', killed.artifact_id);
    expect(lineage!.worker).not.toBe(`${host}:${victim.pid}`);
    f.verify();
  });
});
