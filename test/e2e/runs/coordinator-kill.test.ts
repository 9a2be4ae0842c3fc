import { expect, it } from 'vitest';
import { drillLog, expectCoreCompleted, failuresOf, KNOWN_FAILURES } from './core-expectations.js';
import {
  createFixture,
  createRealFixture,
  DRILL_TIMEOUT_MS,
  expectNothingRedone,
  fixturesPerTest,
} from './harness.js';
import { describeEachDialect } from '../../helpers/postgres.js';
import { childPids, descendantPids, isAlive, pollFor, waitUntilDead } from './processes.js';
import type { ItemRow, RunJson } from './types.js';

/**
 * Drill E (PRODUCT section 6): `kill -9` the coordinator of a detached real `core` run. Its workers notice
 * (their IPC channel closes) and exit, and so do the tools they ran; the next command reports the run
 * `interrupted`; `run resume` completes it and keeps everything that was committed before the kill.
 */

const track = fixturesPerTest({ realMedia: true });

describeEachDialect('drill E: the coordinator killed with SIGKILL', (dialect) => {
  it(
    'leaves no worker behind, is reported interrupted, and resumes to completion keeping what was written',
    { timeout: DRILL_TIMEOUT_MS },
    async () => {
      const f = track(await createRealFixture({ dialect: dialect.name }));
      const { id, coordinatorPid } = await f.startDetached('core', ['--workers', '2']);
      await f.waitFor(id, (run) => run.counts.done >= 10, 'a few items done');

      const workers = childPids(coordinatorPid).filter(isAlive);
      expect(workers).toHaveLength(2);
      // Everything below the coordinator: the two workers and the tools they keep (exiftool's perl) or run.
      const below = descendantPids(coordinatorPid);
      expect(below.length).toBeGreaterThanOrEqual(2);
      process.kill(coordinatorPid, 'SIGKILL');
      // No worker outlives its coordinator, nor any tool of theirs (a zombie waiting to be reaped is dead).
      await waitUntilDead([coordinatorPid, ...below]);
      await f.expectNoProcessLeft();

      const shown = await f.show(id);
      drillLog('E interrupted', shown);
      expect(shown.status).toBe('interrupted');
      expect(shown.statusReason).toBe(`coordinator (pid ${coordinatorPid}) is gone`);
      // What was in flight went back to pending; nothing failed for it.
      const { total, pending, running, done, failed, skipped } = shown.counts;
      expect(running).toBe(0);
      expect(done).toBeGreaterThanOrEqual(10);
      expect(pending).toBeGreaterThan(0);
      expect(pending + done + failed + skipped).toBe(total);
      for (const failure of failuresOf(shown)) expect(KNOWN_FAILURES).toContainEqual(failure);
      const doneBefore = f.items(id).filter((item) => item.status === 'done');
      expect(doneBefore).toHaveLength(done);
      const artifactsBefore = f.artifacts(id);
      expect(artifactsBefore).toHaveLength(done);
      f.verify({ afterCrash: true });

      const resume = await f.cli(['run', 'resume', id, '--json']);
      expect(resume.code, resume.stderr).toBe(3);
      const resumed = JSON.parse(resume.stdout) as RunJson;
      drillLog('E resumed', resumed);
      expectCoreCompleted(resumed, f.model);
      expectNothingRedone(f, id, { items: doneBefore, artifacts: artifactsBefore }, resumed.counts.done);
      f.verify();
      await f.expectNoProcessLeft();
    },
  );

  it('leaves no worker behind even when a step is stuck in a loop that ignores everything', async () => {
    const f = track(await createFixture({ dialect: dialect.name, files: 2, extra: ['hang-marker.jpg'] }));
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
    f.verify({ afterCrash: true });
  });
});
