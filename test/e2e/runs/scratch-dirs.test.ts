import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { describeEachDialect } from '../../helpers/postgres.js';
import { createFixture, fixturesPerTest } from './harness.js';
import { childPids, isAlive, pollFor, waitUntilDead } from './processes.js';

/**
 * Worker scratch folders (issue 14, item 12): every worker works in `<home>/tmp/work-<pid>`, and one
 * killed with SIGKILL cannot remove its own. With real worker processes killed by real signals: the
 * coordinator removes a dead worker's folder when it sees it die; folders left by workers whose
 * coordinator died too are removed by the next coordinator when it starts, and by `gc` (a live
 * process's folder is kept however old it is); a worker whose coordinator dies removes its own as it exits.
 */

const track = fixturesPerTest();

describeEachDialect('scratch folders of killed workers', (dialect) => {
  it('are removed when the worker dies, at coordinator start, in gc, and by a worker at exit', async () => {
    const f = track(await createFixture({ dialect: dialect.name, files: 16 }));
    const tmp = path.join(f.home, 'tmp');
    const dirOf = (pid: number) => path.join(tmp, `work-${pid}`);
    const workDirs = () =>
      fs
        .readdirSync(tmp)
        .filter((name) => /^work-\d+$/.test(name))
        .sort();
    /** The most workers one coordinator had alive at once: the run asked for 2. */
    let mostAlive = 0;
    /** The coordinator's two live workers, once both have made their scratch folder. */
    const twoWorkers = (coordinator: number, not: readonly number[] = []) =>
      pollFor(`two workers of ${coordinator} with their scratch folders`, () => {
        const alive = childPids(coordinator).filter(isAlive);
        mostAlive = Math.max(mostAlive, alive.length);
        const pids = alive.filter((pid) => !not.includes(pid));
        return pids.length === 2 && pids.every((pid) => fs.existsSync(dirOf(pid))) ? pids : undefined;
      });
    /** SIGKILLs workers and their coordinator so that nobody can clean up after them. */
    const killAll = async (coordinator: number, workers: readonly number[]) => {
      process.kill(coordinator, 'SIGSTOP'); // it must not see its workers die
      for (const pid of workers) process.kill(pid, 'SIGKILL');
      await waitUntilDead(workers);
      process.kill(coordinator, 'SIGKILL');
      await waitUntilDead([coordinator]);
      await pollFor('the run to be interrupted', async () =>
        (await f.show(runId)).status === 'interrupted' ? true : undefined,
      );
    };
    // A live process's folder (this test's pid), two days old: nothing may remove it.
    const live = dirOf(process.pid);
    fs.mkdirSync(live, { recursive: true });
    fs.writeFileSync(path.join(live, 'keep'), 'x');
    const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600 * 1000);
    fs.utimesSync(live, twoDaysAgo, twoDaysAgo);

    const { id: runId, coordinatorPid: first } = await f.startDetached('testsleep', [
      '--workers',
      '2',
      '--set',
      'write.ms=2000',
    ]);

    // 1. Workers killed mid-run: their coordinator replaces them and removes their folders.
    const gen1 = await twoWorkers(first);
    for (const pid of gen1) process.kill(pid, 'SIGKILL');
    await waitUntilDead(gen1);
    const gen2 = await twoWorkers(first, gen1);
    await pollFor('the killed workers’ folders to go', () =>
      gen1.every((pid) => !fs.existsSync(dirOf(pid))) ? true : undefined,
    );

    // 2. Workers and coordinator killed together: the folders stay, until the next coordinator starts.
    await killAll(first, gen2);
    expect(workDirs()).toEqual([...gen2, process.pid].map((pid) => `work-${pid}`).sort());
    // With the folders, gc also counts what else the dead left in tmp: the killed coordinator's disk
    // reserve (reserve-<pid>), a partial temp artifact if a worker died writing one.
    const othersOfTheDead = () => fs.readdirSync(tmp).filter((name) => /^(reserve|artifact)-\d+/.test(name));
    expect(othersOfTheDead().length).toBeGreaterThanOrEqual(1);
    const dry = await f.json<{ tempEntries: number }>(['gc', '--dry-run']);
    expect(dry.tempEntries).toBe(2 + othersOfTheDead().length);
    expect(gen2.every((pid) => fs.existsSync(dirOf(pid)))).toBe(true);
    const resumed = await f.json<{ coordinatorPid: number }>(['run', 'resume', runId, '--detach']);
    f.track(resumed.coordinatorPid);
    const gen3 = await twoWorkers(resumed.coordinatorPid);
    expect(gen2.some((pid) => fs.existsSync(dirOf(pid)))).toBe(false);
    // The new coordinator removed the dead one's reserve and partial files too; only its own reserve is left.
    expect(othersOfTheDead()).toEqual([`reserve-${resumed.coordinatorPid}`]);

    // 3. Again, and this time `gc` removes them; the live process's old folder stays.
    await killAll(resumed.coordinatorPid, gen3);
    expect(gen3.every((pid) => fs.existsSync(dirOf(pid)))).toBe(true);
    const leftBehind = othersOfTheDead().length;
    const gc = await f.json<{ tempEntries: number }>(['gc']);
    expect(gc.tempEntries).toBe(2 + leftBehind);
    expect(othersOfTheDead()).toEqual([]);
    expect(workDirs()).toEqual([`work-${process.pid}`]);
    expect(fs.readFileSync(path.join(live, 'keep'), 'utf8')).toBe('x');

    // 4. Only the coordinator killed: its workers see it go and remove their own folders as they exit.
    const again = await f.json<{ coordinatorPid: number }>(['run', 'resume', runId, '--detach']);
    f.track(again.coordinatorPid);
    const gen4 = await twoWorkers(again.coordinatorPid);
    process.kill(again.coordinatorPid, 'SIGKILL');
    await waitUntilDead([again.coordinatorPid, ...gen4]);
    expect(workDirs()).toEqual([`work-${process.pid}`]);
    fs.rmSync(live, { recursive: true });
    // Workers killed together are replaced, never by more than were asked for.
    expect(mostAlive).toBe(2);
    f.verify();
  });
});
