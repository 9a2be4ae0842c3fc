import { describe, expect, it } from 'vitest';
import { describeEachDialect } from '../../helpers/postgres.js';
import { createFixture, fixturesPerTest, type Fixture } from './harness.js';
import {
  childPids,
  isAlive,
  pollFor,
  stopOutsideWriteLock,
  stopWhileHoldingWriteLock,
  waitUntilDead,
} from './processes.js';
import type { ItemRow } from './types.js';

/**
 * Issue 14 item 11: processes that stop without dying. A worker frozen with a real SIGSTOP never exits and
 * never reaches its own timeout; it must be replaced as soon as its lease lapses (not after the item's
 * timeout, 300 s here), and the run must complete once its last item is done even while a frozen worker
 * that holds nothing is still around. The lease is made short (`runs.leaseSec` 2) instead of waiting 15 s;
 * nothing here measures time: the runs must simply get to `completed` within the harness's wait, which is
 * far shorter than the item timeout that was the only way out before.
 */

const track = fixturesPerTest();

const shortLease = (config: Record<string, Record<string, unknown>>) => {
  config.runs = { ...config.runs, leaseSec: 2, itemTimeoutSec: 300 };
};

const longerLease = (config: Record<string, Record<string, unknown>>) => {
  config.runs = { ...config.runs, leaseSec: 10, itemTimeoutSec: 300 };
};

/** The worker processes of a coordinator, once `n` of them are up. */
const workersOf = (coordinatorPid: number, n: number) =>
  pollFor(`${n} workers`, () => {
    const pids = childPids(coordinatorPid).filter(isAlive);
    return pids.length >= n ? pids : undefined;
  });

const running = (f: Fixture, runId: string) =>
  f.query<ItemRow>("select * from work_items where run_id = ? and status = 'running'", runId);

describeEachDialect('a SIGSTOPped worker', (dialect) => {
  it('is replaced once its lease lapses, and its item is done by another worker', async () => {
    const f = track(await createFixture({ dialect: dialect.name, files: 4, config: shortLease }));
    const { id, coordinatorPid } = await f.startDetached('testsleep', [
      '--workers',
      '2',
      '--set',
      'write.ms=1500',
    ]);
    // An item that stays in one worker's hands (its step sleeps 1.5 s): found twice, 200 ms apart, so the
    // worker has most likely told its coordinator it began (the rare other case is checked below).
    const victim = await pollFor('an item in hand', async () => {
      const seen = running(f, id)[0];
      if (!seen) return undefined;
      await new Promise((resolve) => setTimeout(resolve, 200));
      return running(f, id).find((i) => i.id === seen.id && i.lease_owner === seen.lease_owner);
    });
    const victimPid = Number(victim.lease_owner!.split(':').at(-1));
    expect(childPids(coordinatorPid)).toContain(victimPid);
    process.kill(victimPid, 'SIGSTOP');
    try {
      const run = await f.waitFor(id, (r) => r.status === 'completed', 'the run to complete');
      expect(run.counts).toMatchObject({ total: 4, done: 4, failed: 0 });
      // Killed (a SIGKILL reaches a stopped process), not left frozen; counted as a crash of the run.
      await waitUntilDead([victimPid]);
      expect(run.stats.workerCrashes).toBe(1);
      const died = f.runLog(id).filter((line) => line.event === 'worker-died');
      expect(died).toHaveLength(1);
      expect(died[0]).toMatchObject({ worker: victim.lease_owner, timeout: false });
      // Killed for its lapsed lease, or, when the SIGSTOP caught it inside a write transaction (SQLite's
      // lock held), as the stopped worker holding that lock: either way not by the item's timeout.
      expect(died[0]!.leaseLapsed === true || died[0]!.stopped === true).toBe(true);
      // Its item was tried again and done by a live worker, one artifact. Frozen on the item, that was a
      // failed attempt (two in all); frozen in the moment between claiming it and starting it (the
      // coordinator not yet told), the item never began and went back uncharged (one).
      const item = f.items(id).find((i) => i.id === victim.id)!;
      const begun = died[0]!.itemId === victim.id;
      if (!begun) expect(died[0]!.itemId).toBeNull();
      expect(item).toMatchObject({ status: 'done', attempts: begun ? 2 : 1 });
      const [lineage] = f.query<{ worker: string }>(
        'select worker from lineage where artifact_id = ?',
        item.artifact_id,
      );
      expect(lineage!.worker).not.toBe(victim.lease_owner);
      f.verify();
      await f.expectNoProcessLeft();
    } finally {
      if (isAlive(victimPid)) process.kill(victimPid, 'SIGKILL');
    }
  });

  it('holding nothing does not keep a finished run running', async () => {
    // A lease long enough for a loaded machine: the two holders must not lose theirs to each other's
    // claims. The frozen worker holds none, so nothing here waits for a lease to lapse.
    const f = track(await createFixture({ dialect: dialect.name, files: 2, config: longerLease }));
    // Three workers for two items: one has nothing to claim and waits.
    const { id, coordinatorPid } = await f.startDetached('testsleep', [
      '--workers',
      '3',
      '--set',
      'write.ms=1500',
    ]);
    const workers = await workersOf(coordinatorPid, 3);
    const holders = await pollFor('both items in hand', () => {
      const items = running(f, id);
      return items.length === 2 ? items.map((i) => Number(i.lease_owner!.split(':').at(-1))) : undefined;
    });
    const idle = workers.find((pid) => !holders.includes(pid))!;
    expect(idle).toBeDefined();
    // Frozen between its looks for work: frozen inside one it would hold SQLite's write lock, and
    // everyone would wait on it (the case of the next test).
    await stopOutsideWriteLock(idle, f.database.kind === 'sqlite' ? f.database.file : null);
    try {
      const run = await f.waitFor(id, (r) => r.status === 'completed', 'the run to complete');
      expect(run.counts).toMatchObject({ total: 2, done: 2, failed: 0 });
      await waitUntilDead([idle, coordinatorPid]);
      // It did nothing wrong: no crash counted, no item charged twice.
      expect(run.stats.workerCrashes).toBe(0);
      for (const item of f.items(id)) expect(item.attempts).toBe(1);
      f.verify();
      await f.expectNoProcessLeft();
    } finally {
      if (isAlive(idle)) process.kill(idle, 'SIGKILL');
    }
  });
});

describe('a worker stopped inside a write transaction on sqlite', () => {
  // SQLite has one write lock for the whole database: a worker stopped while it holds it (claiming,
  // committing) makes every other writer wait, the coordinator's heartbeat included. Once the lock
  // had been held for busy_timeout (10 s), the coordinator's heartbeat failed with SQLITE_BUSY and the
  // coordinator died, leaving the run `running` for ever. It must be killed, and the run completed.
  it('is killed, the lock comes free, and the run completes', async () => {
    const f = track(await createFixture({ files: 300, config: shortLease }));
    const { id, coordinatorPid } = await f.startDetached('testsleep', [
      '--workers',
      '2',
      '--set',
      'write.ms=2',
    ]);
    await workersOf(coordinatorPid, 2);
    if (f.database.kind !== 'sqlite') throw new Error('a sqlite home was asked for');
    const databaseFile = f.database.file;
    const victim = await stopWhileHoldingWriteLock(
      () => childPids(coordinatorPid).filter(isAlive),
      databaseFile,
    );
    try {
      const run = await f.waitFor(id, (r) => r.status === 'completed', 'the run to complete');
      expect(run.counts).toMatchObject({ total: 300, done: 300, failed: 0 });
      await waitUntilDead([victim, coordinatorPid]);
      const killed = f
        .runLog(id)
        .filter((line) => ['lease-lapsed', 'worker-stopped'].includes(String(line.event)))
        .map((line) => String(line.worker));
      expect(killed.some((worker) => worker.endsWith(`:${victim}`))).toBe(true);
      for (const item of f.items(id)) expect(item.status).toBe('done');
      // The stopped worker was killed mid-transaction: files it stored but never committed may be left.
      f.verify({ afterCrash: true });
      await f.expectNoProcessLeft();
    } finally {
      if (isAlive(victim)) process.kill(victim, 'SIGKILL');
    }
  });
});
