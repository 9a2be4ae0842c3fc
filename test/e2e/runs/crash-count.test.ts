import { expect, it } from 'vitest';
import { describeEachDialect } from '../../helpers/postgres.js';
import { createFixture, fixturesPerTest, type Fixture } from './harness.js';
import { pollFor, waitUntilDead } from './processes.js';
import type { ItemRow, RunJson } from './types.js';

/**
 * Issue 14 item 12: a run's figures count the worker crashes of every coordinator session, not of the
 * last one only. Workers are SIGKILLed mid-item in a first session, the run is cancelled and resumed,
 * one more is killed in the second session: the figures say all of them.
 */

const track = fixturesPerTest();

/** SIGKILLs the worker holding an item now (not one killed before), and waits until it is dead. */
async function killAWorker(f: Fixture, runId: string, killed: Set<number>): Promise<void> {
  const pid = await pollFor('a live worker with an item in hand', () => {
    const [item] = f
      .query<ItemRow>("select * from work_items where run_id = ? and status = 'running'", runId)
      .filter((i) => !killed.has(Number(i.lease_owner!.split(':').at(-1))));
    return item ? Number(item.lease_owner!.split(':').at(-1)) : undefined;
  });
  killed.add(pid);
  process.kill(pid, 'SIGKILL');
  await waitUntilDead([pid]);
}

describeEachDialect('worker crashes in the figures', (dialect) => {
  it('are counted over every session of a run', async () => {
    const f = track(await createFixture({ dialect: dialect.name, files: 8 }));
    const killed = new Set<number>();
    const first = await f.startDetached('testsleep', ['--workers', '2', '--set', 'write.ms=1500']);
    await killAWorker(f, first.id, killed);
    await killAWorker(f, first.id, killed);
    // Both deaths seen by the coordinator before the session ends.
    await pollFor('both crashes seen', () =>
      f.query<{ n: number }>('select worker_crashes as n from runs where id = ?', first.id)[0]!.n === 2
        ? true
        : undefined,
    );
    const cancel = await f.cli(['run', 'cancel', first.id]);
    expect(cancel.code, cancel.stderr).toBe(0);
    const cancelled = await f.waitFor(first.id, (r) => r.status === 'cancelled', 'the cancel');
    await waitUntilDead([first.coordinatorPid]);
    expect(cancelled.stats.workerCrashes).toBe(2);

    const resume = await f.json<{ coordinatorPid: number }>(['run', 'resume', first.id, '--detach']);
    f.track(resume.coordinatorPid);
    await killAWorker(f, first.id, killed);
    const run = await f.waitFor(first.id, (r) => r.status === 'completed', 'the run to complete');
    expect(run.counts).toMatchObject({ total: 8, done: 8, failed: 0 });
    // Two in the first session and one in the second: three, however many sessions it took.
    expect(run.stats.workerCrashes).toBe(3);
    const shown: RunJson = await f.show(first.id);
    expect(shown.stats.workerCrashes).toBe(3);
    f.verify();
    await f.expectNoProcessLeft();
  });
});
