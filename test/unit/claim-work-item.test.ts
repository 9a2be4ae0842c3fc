import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { initHome, openHome, type Home } from '../../src/home/home.js';
import type { PipelineDefinition, StepDefinition } from '../../src/pipeline/step.js';
import { claimWorkItem, type ClaimResult } from '../../src/runs/claim-work-item.js';
import { completeWorkItem, failWorkItem } from '../../src/runs/finish-work-item.js';
import { backoffMs } from '../../src/runs/lease.js';
import { needsOf } from '../../src/runs/worker-context.js';
import type { WorkItemRow } from '../../src/store/schema.js';
import { transitionRun } from '../../src/store/runs-repository.js';
import { leaseOf, renewLeases, skipOrphanedDependents } from '../../src/store/work-items-repository.js';
import { REPO_ROOT, tempDir } from '../helpers/cli.js';
import { describeEachDialect, SQLITE, type TestDialect } from '../helpers/postgres.js';
import { createUnitRun, insertImageAssets, unitStep } from '../helpers/unit-run.js';

/**
 * Claiming work items (issues 3 and 12) on a real SQLite home and a real PostgreSQL database: claims are
 * atomic across connections, the attempt is counted when the item is claimed, an expired lease sends the
 * item back to pending with a backoff and fails it after max attempts, and a step that needs an earlier
 * step's artifact waits for it. Time is injected (`now`), so nothing here waits for a clock.
 */

const MAX_ATTEMPTS = 3;
const LEASE_MS = 1_000;

const homes: Home[] = [];
const cleanups: (() => void)[] = [];
afterEach(async () => {
  while (homes.length > 0) await homes.pop()!.close();
  while (cleanups.length > 0) cleanups.pop()!();
});

/** A new home with `assets` image assets and a `running` production run of `steps` over them. */
async function setup(dialect: TestDialect, assets: number, steps: StepDefinition[]) {
  const { dir, cleanup } = tempDir('archivist-claim-');
  cleanups.push(cleanup);
  const { home } = await initHome(path.join(dir, 'home'), { databaseUrl: await dialect.newDatabase() });
  homes.push(home);
  const ids = await insertImageAssets(home.db, `asset ${dir}`, assets);
  const runId = await createUnitRun(home.db, ids, { steps, maxAttempts: MAX_ATTEMPTS });
  const pipeline: PipelineDefinition = { name: 'unit', version: 1, description: 'unit', steps };
  expect(await transitionRun(home.db, runId, ['queued'], 'running')).toBe(true);
  const needs = needsOf(pipeline);
  const claim = (owner: string, now: number | undefined, db = home.db) =>
    claimWorkItem(db, { runId, owner, leaseMs: LEASE_MS, needs, now });
  const item = (id: number) =>
    home.db.selectFrom('work_items').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  return { home, root: home.layout.root, runId, ids, needs, claim, item };
}

function claimed(result: ClaimResult): WorkItemRow {
  if (result.kind !== 'claimed') throw new Error(`expected a claim, got ${JSON.stringify(result)}`);
  return result.item;
}

describeEachDialect('claimWorkItem', (dialect) => {
  it('never hands the same item to two connections, claiming in turn', async () => {
    const t = await setup(dialect, 10, [unitStep('a')]);
    const other = await openHome(t.root); // a second, separate better-sqlite3 connection to the same file
    homes.push(other);
    const seen = new Map<number, string>();
    for (let i = 0; ; i++) {
      const owner = i % 2 === 0 ? 'A' : 'B';
      const result = await t.claim(owner, 1_000, owner === 'A' ? t.home.db : other.db);
      if (result.kind !== 'claimed') {
        // Everything is claimed and still leased: wait, not finished.
        expect(result).toEqual({ kind: 'wait' });
        break;
      }
      expect(seen.has(result.item.id), `item ${result.item.id} claimed twice`).toBe(false);
      seen.set(result.item.id, owner);
    }
    expect(seen.size).toBe(10);
    const rows = await t.home.db.selectFrom('work_items').selectAll().where('run_id', '=', t.runId).execute();
    for (const row of rows)
      expect(row).toMatchObject({ status: 'running', attempts: 1, lease_owner: seen.get(row.id) });
  });

  it('never hands the same item to two processes claiming at the same time', async () => {
    // Real concurrency needs separate threads (better-sqlite3 blocks its thread while it waits for a lock),
    // and a thread cannot load TypeScript: the threads use the built modules (`npm run build`).
    const built = path.join(REPO_ROOT, 'dist', 'runs', 'claim-work-item.js');
    if (!fs.existsSync(built)) throw new Error(`${built} is missing: run \`npm run build\` first`);
    const items = 300;
    const threads = 4;
    const t = await setup(dialect, items, [unitStep('a')]);
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      (async () => {
        const { openHome } = await import(workerData.homeModule);
        const { claimWorkItem } = await import(workerData.claimModule);
        const home = await openHome(workerData.root);
        const start = new Int32Array(workerData.start);
        Atomics.add(start, 1, 1);
        Atomics.wait(start, 0, 0); // every thread starts claiming at the same moment
        const ids = [];
        for (;;) {
          const result = await claimWorkItem(home.db, {
            runId: workerData.runId, owner: workerData.owner, leaseMs: 60000, needs: {}, now: 1000,
          });
          if (result.kind !== 'claimed') break;
          ids.push(result.item.id);
          // A moment of "work" between claims, as a worker has; without it one thread can take the
          // lock back the instant it commits, while the others sleep in SQLite's busy handler.
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
        await home.close();
        parentPort.postMessage(ids);
      })().catch((error) => { throw error; });
    `;
    const start = new SharedArrayBuffer(8);
    const flags = new Int32Array(start);
    const moduleUrl = (rel: string) => new URL(`file://${path.join(REPO_ROOT, 'dist', rel)}`).href;
    const results = Array.from({ length: threads }, (_, i) => {
      const worker = new Worker(code, {
        eval: true,
        workerData: {
          homeModule: moduleUrl('home/home.js'),
          claimModule: moduleUrl('runs/claim-work-item.js'),
          root: t.root,
          runId: t.runId,
          owner: `thread-${i}`,
          start,
        },
      });
      return new Promise<{ owner: string; ids: number[] }>((resolve, reject) => {
        worker.once('message', (ids: number[]) => resolve({ owner: `thread-${i}`, ids }));
        worker.once('error', reject);
        worker.once('exit', (code) => reject(new Error(`thread ${i} exited ${code} before reporting`)));
      });
    });
    while (Atomics.load(flags, 1) < threads) await new Promise((resolve) => setTimeout(resolve, 10));
    Atomics.store(flags, 0, 1);
    Atomics.notify(flags, 0);
    const claims = await Promise.all(results);

    const all = claims.flatMap((c) => c.ids);
    expect(all).toHaveLength(items);
    expect(new Set(all).size).toBe(items);
    const rows = await t.home.db.selectFrom('work_items').selectAll().where('run_id', '=', t.runId).execute();
    const ownerOf = new Map(claims.flatMap((c) => c.ids.map((id) => [id, c.owner] as const)));
    for (const row of rows) {
      expect(row).toMatchObject({ status: 'running', attempts: 1, lease_owner: ownerOf.get(row.id) });
    }
  });

  it('counts the attempt at claim time and leases the item', async () => {
    const t = await setup(dialect, 1, [unitStep('a')]);
    const item = claimed(await t.claim('A', 5_000));
    expect(item.attempts).toBe(1);
    // In the database already, before any outcome: a worker that dies now has used its attempt.
    expect(await t.item(item.id)).toMatchObject({
      status: 'running',
      attempts: 1,
      lease_owner: 'A',
      lease_expires_at: 5_000 + LEASE_MS,
      started_at: new Date(5_000).toISOString(),
    });
    // A retryable failure goes back to pending with a backoff; the next claim counts attempt 2.
    expect(
      await failWorkItem(
        t.home.db,
        item.id,
        leaseOf(item),
        { reason: 'io-error', message: 'flaky', retryable: true },
        6_000,
      ),
    ).toBe('retrying');
    expect(await t.item(item.id)).toMatchObject({
      status: 'pending',
      attempts: 1,
      not_before: 6_000 + backoffMs(1),
    });
    expect(await t.claim('B', 6_000 + backoffMs(1) - 1)).toEqual({ kind: 'wait' });
    expect(claimed(await t.claim('B', 6_000 + backoffMs(1))).attempts).toBe(2);
  });

  it('returns an expired lease to pending with a backoff, and fails the item after max attempts', async () => {
    const t = await setup(dialect, 1, [unitStep('a')]);
    const t0 = 1_000_000;
    const first = claimed(await t.claim('A', t0));

    // A heartbeat extends the lease: still A's after the original expiry.
    expect(await renewLeases(t.home.db, 'A', [leaseOf(first)], 5 * LEASE_MS, t0)).toEqual(
      new Set([first.id]),
    );
    expect(await t.claim('B', t0 + 3 * LEASE_MS)).toEqual({ kind: 'wait' });
    expect(await t.item(first.id)).toMatchObject({ status: 'running', lease_owner: 'A', attempts: 1 });

    let now = t0;
    let held = first;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      // Far in the future: the lease has long expired.
      now += 1_000_000_000;
      const result = await t.claim('X', now);
      const row = await t.item(first.id);
      if (attempt < MAX_ATTEMPTS) {
        expect(result).toEqual({ kind: 'wait' });
        expect(row).toMatchObject({
          status: 'pending',
          attempts: attempt,
          lease_owner: null,
          lease_expires_at: null,
          not_before: now + backoffMs(attempt),
          reason: 'worker-crashed',
        });
        expect(row.message).toContain(`attempt ${attempt} of ${MAX_ATTEMPTS}`);
        // Not before the backoff is over, then claimed again with the next attempt counted.
        expect(await t.claim('X', now + backoffMs(attempt) - 1)).toEqual({ kind: 'wait' });
        now += backoffMs(attempt);
        const previous = held;
        const again = claimed(await t.claim(`W${attempt + 1}`, now));
        expect(again.id).toBe(first.id);
        expect(again.attempts).toBe(attempt + 1);
        expect(again.lease_epoch).toBe(previous.lease_epoch + 1);
        held = again;
        // The old owner lost it: its heartbeat no longer extends anything.
        expect(
          await renewLeases(t.home.db, previous.lease_owner!, [leaseOf(previous)], LEASE_MS, now),
        ).toEqual(new Set());
      } else {
        expect(result).toEqual({ kind: 'finished' });
        expect(row).toMatchObject({
          status: 'failed',
          attempts: MAX_ATTEMPTS,
          lease_owner: null,
          reason: 'worker-crashed',
          finished_at: new Date(now).toISOString(),
        });
      }
    }
    // The backoff doubles with each attempt used (computed, not waited for: the clock is injected).
    expect(backoffMs(2)).toBe(2 * backoffMs(1));
  });

  it('makes a step that needs an earlier step wait until that step is done', async () => {
    const t = await setup(dialect, 2, [unitStep('a'), unitStep('b', ['a'])]);
    const [asset0, asset1] = t.ids as [string, string];
    const a0 = claimed(await t.claim('A', 1_000));
    expect([a0.asset_id, a0.step]).toEqual([asset0, 'a']);
    // b of asset 0 waits for a of asset 0: the next claim takes a of asset 1 instead.
    const a1 = claimed(await t.claim('B', 1_000));
    expect([a1.asset_id, a1.step]).toEqual([asset1, 'a']);
    expect(await t.claim('C', 1_000)).toEqual({ kind: 'wait' });

    expect(
      await completeWorkItem(t.home.db, a0, 'A', { durationMs: 1, artifact: null, makeCurrent: null }),
    ).toBe(true);
    const b0 = claimed(await t.claim('C', 1_000));
    expect([b0.asset_id, b0.step]).toEqual([asset0, 'b']);

    // An input that fails for good never arrives: its dependent is skipped, not left waiting.
    expect(
      await failWorkItem(
        t.home.db,
        a1.id,
        leaseOf(a1),
        { reason: 'decode-error', message: 'bad', retryable: false },
        1_000,
      ),
    ).toBe('failed');
    expect(await t.claim('D', 1_000)).toEqual({ kind: 'wait' }); // b0 still running
    expect(await skipOrphanedDependents(t.home.db, t.runId, t.needs)).toBe(1);
    const b1 = await t.home.db
      .selectFrom('work_items')
      .selectAll()
      .where('run_id', '=', t.runId)
      .where('asset_id', '=', asset1)
      .where('step', '=', 'b')
      .executeTakeFirstOrThrow();
    expect(b1).toMatchObject({ status: 'skipped', reason: 'input-unavailable', attempts: 0 });

    expect(
      await completeWorkItem(t.home.db, b0, 'C', { durationMs: 1, artifact: null, makeCurrent: null }),
    ).toBe(true);
    expect(await t.claim('D', 1_000)).toEqual({ kind: 'finished' });
  });

  it('stops claiming once the run is no longer running', async () => {
    const t = await setup(dialect, 2, [unitStep('a')]);
    claimed(await t.claim('A', 1_000));
    expect(await transitionRun(t.home.db, t.runId, ['running'], 'cancelling')).toBe(true);
    expect(await t.claim('B', 1_000)).toEqual({ kind: 'stopped', status: 'cancelling' });
  });
});

describe('an idle claim on sqlite', () => {
  // SQLite has one write lock for the whole file. An idle worker polls for work; if each poll were a
  // write transaction, a poller frozen inside one (SIGSTOP) would hold every writer of the run up.
  it('answers wait and stopped with reads, and takes the lock only when there is work', async () => {
    const t = await setup(SQLITE, 2, [unitStep('a')]);
    const idle = (owner: string, now: number) =>
      claimWorkItem(t.home.db, {
        runId: t.runId,
        owner,
        leaseMs: LEASE_MS,
        needs: t.needs,
        now,
        nothingToCommit: true,
      });
    const first = claimed(await t.claim('A', 1_000));
    claimed(await t.claim('A', 1_000));
    // Another process holds the write lock from here on, as a frozen one would.
    const locker = new BetterSqlite3(path.join(t.root, 'archivist.db'), { timeout: 0 });
    cleanups.push(() => locker.close());
    locker.exec('BEGIN IMMEDIATE');
    // Both items leased and the leases still good: nothing to take, said at once without the lock (a
    // write would wait out busy_timeout, 10 s, and fail with SQLITE_BUSY).
    expect(await idle('B', 1_500)).toEqual({ kind: 'wait' });
    expect(await t.item(first.id)).toMatchObject({ status: 'running' });
    // A lapsed lease is work: the claim goes for the lock and settles it (back to pending, with a backoff).
    locker.exec('COMMIT');
    expect(await idle('B', 5_000)).toEqual({ kind: 'wait' });
    expect(await t.item(first.id)).toMatchObject({ status: 'pending', reason: 'worker-crashed' });
    expect(await transitionRun(t.home.db, t.runId, ['running'], 'cancelling')).toBe(true);
    locker.exec('BEGIN IMMEDIATE');
    expect(await idle('C', 5_000)).toEqual({ kind: 'stopped', status: 'cancelling' });
    locker.exec('ROLLBACK');
  });
});
