import { expect, it } from 'vitest';
import { describeEachDialect } from '../../helpers/postgres.js';
import { createFixture, fixturesPerTest } from './harness.js';
import { waitUntilDead } from './processes.js';
import type { RunJson } from './types.js';

/**
 * A background coordinator that dies before it takes its run (killed, out of memory, a broken install):
 * the run was left `queued` for ever, since only running runs were checked for a dead coordinator. Drill
 * H met it when a resumed run's new coordinator was killed while it started. Now the launch records the
 * coordinator's pid, the next command reports the run `interrupted` with why, and a resume completes it.
 */

const track = fixturesPerTest();

describeEachDialect('a detached coordinator killed before it takes its run', (dialect) => {
  it('leaves the run interrupted, not queued, and a resume completes it', async () => {
    const f = track(await createFixture({ dialect: dialect.name, files: 4 }));
    const { id, coordinatorPid } = await f.startDetached('testsleep', ['--workers', '1']);
    // At once: a coordinator needs far longer to start Node, open the home and take the run.
    process.kill(coordinatorPid, 'SIGKILL');
    await waitUntilDead([coordinatorPid]);

    const shown = await f.show(id);
    expect(shown.status).toBe('interrupted');
    if (shown.stats.startedAt === null) {
      // Killed before it took the run (the case this test is for; after, it is drill E's).
      expect(shown.statusReason).toBe(`coordinator (pid ${coordinatorPid}) exited before it took the run`);
    } else {
      expect(shown.statusReason).toBe(`coordinator (pid ${coordinatorPid}) is gone`);
    }

    const resumed = await f.cli(['run', 'resume', id, '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const run = JSON.parse(resumed.stdout) as RunJson;
    expect(run.status).toBe('completed');
    expect(run.counts.done).toBe(run.counts.total);
    f.verify();
  });
});
