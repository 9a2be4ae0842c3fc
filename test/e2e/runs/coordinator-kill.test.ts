import { afterEach, describe, expect, it } from 'vitest';
import {
  childPids,
  createFixture,
  isAlive,
  pollFor,
  waitUntilDead,
  type Fixture,
  type ItemRow,
  type RunJson,
} from './harness.js';

/**
 * Drill E (PRODUCT section 6): `kill -9` the coordinator of a detached run. Its workers notice (their IPC
 * channel closes) and exit; the next command reports the run `interrupted`; `run resume` completes it and
 * keeps everything that was committed before the kill.
 */

let fixture: Fixture | undefined;
afterEach(async () => {
  await fixture?.cleanup();
  fixture = undefined;
});

describe('drill E: the coordinator killed with SIGKILL', () => {
  it('leaves no worker behind, is reported interrupted, and resumes to completion keeping what was written', async () => {
    fixture = await createFixture({ files: 30 });
    const f = fixture;
    const { id, coordinatorPid } = await f.startDetached('testsleep', [
      '--set',
      'write.ms=400',
      '--workers',
      '2',
    ]);
    await f.waitFor(id, (run) => run.counts.done >= 3, 'a few items done');

    const workers = childPids(coordinatorPid).filter(isAlive);
    expect(workers).toHaveLength(2);
    process.kill(coordinatorPid, 'SIGKILL');
    // No worker outlives its coordinator (a zombie waiting to be reaped counts as dead).
    await waitUntilDead([coordinatorPid, ...workers]);

    const shown = await f.show(id);
    expect(shown.status).toBe('interrupted');
    expect(shown.statusReason).toBe(`coordinator (pid ${coordinatorPid}) is gone`);
    // What was in flight went back to pending; nothing failed for it.
    expect(shown.counts.running).toBe(0);
    expect(shown.counts.failed).toBe(0);
    expect(shown.counts.done).toBeGreaterThan(0);
    expect(shown.counts.pending).toBeGreaterThan(0);
    expect(shown.counts.done + shown.counts.pending).toBe(30);
    const doneBefore = f.items(id).filter((item) => item.status === 'done');
    expect(doneBefore).toHaveLength(shown.counts.done);
    const artifactsBefore = f.artifacts(id);
    expect(artifactsBefore).toHaveLength(shown.counts.done);
    f.verify();

    const resume = await f.cli(['run', 'resume', id, '--json']);
    expect(resume.code, resume.stderr).toBe(0);
    const resumed = JSON.parse(resume.stdout) as RunJson;
    expect(resumed.status).toBe('completed');
    expect(resumed.counts).toEqual({
      total: 30,
      pending: 0,
      running: 0,
      done: 30,
      failed: 0,
      skipped: 0,
      reused: 0,
    });
    const after = f.items(id);
    for (const item of doneBefore) {
      expect(after.find((i) => i.id === item.id)).toMatchObject({
        status: 'done',
        artifact_id: item.artifact_id,
        finished_at: item.finished_at,
      });
    }
    const artifactsAfter = f.artifacts(id);
    expect(artifactsAfter).toHaveLength(30);
    for (const artifact of artifactsBefore) expect(artifactsAfter).toContainEqual(artifact);
    f.verify();
  });

  it('leaves no worker behind even when a step is stuck in a loop that ignores everything', async () => {
    fixture = await createFixture({ files: 2, extra: ['hang-marker.jpg'] });
    const f = fixture;
    const hang = await f.assetByPath('hang-marker.jpg');
    const { id, coordinatorPid } = await f.startDetached('testfault', ['--workers', '2']);
    // The worker holding the hanging item: its event loop is blocked, so it cannot hear its channel close.
    const owner = await pollFor('the hanging item to be claimed', () => {
      const [item] = f.query<ItemRow>(
        "select * from work_items where run_id = ? and asset_id = ? and step = 'probe' and status = 'running'",
        id,
        hang.id,
      );
      return item?.lease_owner ?? undefined;
    });
    const hungPid = Number(owner.split(':').at(-1));
    expect(childPids(coordinatorPid)).toContain(hungPid);
    const workers = childPids(coordinatorPid).filter(isAlive);

    process.kill(coordinatorPid, 'SIGKILL');
    await waitUntilDead([coordinatorPid, ...workers]);
    const shown = await f.show(id);
    expect(shown.status).toBe('interrupted');
    expect(shown.counts.running).toBe(0);
    expect(shown.counts.failed).toBe(0);
    f.verify();
  });
});
