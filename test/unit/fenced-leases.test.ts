import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { initHome, type Home } from '../../src/home/home.js';
import { claimWorkItem } from '../../src/runs/claim-work-item.js';
import { completeWorkItem, failWorkItem, type DoneResult } from '../../src/runs/finish-work-item.js';
import { backoffMs } from '../../src/runs/lease.js';
import { newArtifactId } from '../../src/runs/run-id.js';
import { workerStatsOfRun } from '../../src/store/run-workers-repository.js';
import { transitionRun } from '../../src/store/runs-repository.js';
import type { WorkItemRow } from '../../src/store/schema.js';
import {
  completeItems,
  getWorkItem,
  leaseOf,
  renewLeases,
  skipItem,
} from '../../src/store/work-items-repository.js';
import { tempDir } from '../helpers/cli.js';
import { describeEachDialect, type TestDialect } from '../helpers/postgres.js';
import { createUnitRun, insertImageAssets } from '../helpers/unit-run.js';

/**
 * Fencing (issue 12, PRODUCT section 8): every claim bumps the item's lease epoch, and whatever a worker
 * writes about an item (heartbeat, completion, failure, skip) commits only where its owner and epoch still
 * match. These tests play the worker that was cut off while its lease expired and another took the item
 * over, then comes back: nothing it says may change the item, and its late completion is refused, counted,
 * and leaves no artifact row behind. Time is injected (`now`); the last test uses the database's clock.
 */

const LEASE_MS = 1_000;
const homes: Home[] = [];
const cleanups: (() => void)[] = [];
afterEach(async () => {
  while (homes.length > 0) await homes.pop()!.close();
  while (cleanups.length > 0) cleanups.pop()!();
});

async function setup(dialect: TestDialect) {
  const { dir, cleanup } = tempDir('archivist-fence-');
  cleanups.push(cleanup);
  const { home } = await initHome(path.join(dir, 'home'), { databaseUrl: await dialect.newDatabase() });
  homes.push(home);
  const assetId = (await insertImageAssets(home.db, `fenced ${dir}`, 1))[0]!;
  const runId = await createUnitRun(home.db, [assetId], { maxAttempts: 5 });
  expect(await transitionRun(home.db, runId, ['queued'], 'running')).toBe(true);
  const claim = async (owner: string, now?: number): Promise<WorkItemRow> => {
    const result = await claimWorkItem(home.db, { runId, owner, leaseMs: LEASE_MS, needs: {}, now });
    if (result.kind !== 'claimed') throw new Error(`expected a claim, got ${JSON.stringify(result)}`);
    return result.item;
  };
  /** A done result with a new artifact, as a worker commits it after storing the file. */
  const withArtifact = (worker: string): DoneResult => ({
    durationMs: 5,
    artifact: {
      created: {
        id: newArtifactId(),
        kind: 'a',
        step: 'a',
        assetId,
        runId,
        sha256: 'f'.repeat(64),
        size: 1,
        mime: 'image/webp',
        path: `ff/${worker}.webp`,
        cacheKey: `key-${worker}`,
        policy: 'production',
        expiresAt: null,
      },
      lineage: {
        runId,
        pipeline: { name: 'unit', version: 1 },
        step: 'a',
        tool: { name: 'unit-tool', version: '1' },
        decoder: null,
        params: {},
        inputs: [{ assetId, sha256: assetId }],
        worker,
        host: 'test',
        durationMs: 5,
        createdAt: new Date().toISOString(),
      },
    },
    makeCurrent: { assetId, kind: 'a' },
  });
  /**
   * Worker A claims the item, is cut off past its lease, and worker B takes it over (the expiry sends it
   * back with a backoff, then B claims it with the next epoch).
   */
  const takeover = async () => {
    const t0 = 1_000_000;
    const a = await claim('A', t0);
    const expiredAt = t0 + 10 * LEASE_MS;
    const wait = await claimWorkItem(home.db, {
      runId,
      owner: 'B',
      leaseMs: LEASE_MS,
      needs: {},
      now: expiredAt,
    });
    expect(wait).toEqual({ kind: 'wait' }); // expired and back to pending, waiting out its backoff
    const b = await claim('B', expiredAt + backoffMs(1));
    expect(b.id).toBe(a.id);
    expect(b.lease_epoch).toBe(a.lease_epoch + 1);
    return { a, b, now: expiredAt + backoffMs(1) };
  };
  const artifactRows = () =>
    home.db.selectFrom('artifacts').selectAll().where('run_id', '=', runId).execute();
  return { home, runId, assetId, claim, withArtifact, takeover, artifactRows };
}

describeEachDialect('fenced leases', (dialect) => {
  it('refuses a late completion after the lease was taken over, leaves no row of it, and counts it', async () => {
    const t = await setup(dialect);
    const { a, b } = await t.takeover();

    const late = t.withArtifact('A');
    expect(await completeWorkItem(t.home.db, a, 'A', late)).toBe(false);
    // Nothing of A's result is visible: no artifact, no lineage; the item is still B's, running.
    expect(await t.artifactRows()).toEqual([]);
    const lineage = await t.home.db.selectFrom('lineage').selectAll().execute();
    expect(lineage).toEqual([]);
    expect(await getWorkItem(t.home.db, a.id)).toMatchObject({
      status: 'running',
      lease_owner: 'B',
      lease_epoch: b.lease_epoch,
      artifact_id: null,
    });

    // B's completion is the one that counts, with B's lineage.
    const mine = t.withArtifact('B');
    expect(await completeWorkItem(t.home.db, b, 'B', mine)).toBe(true);
    const rows = await t.artifactRows();
    expect(rows.map((r) => [r.id, r.is_current])).toEqual([
      [(mine.artifact as { created: { id: string } }).created.id, 1],
    ]);
    expect(await getWorkItem(t.home.db, a.id)).toMatchObject({ status: 'done', artifact_id: rows[0]!.id });

    const stats = await workerStatsOfRun(t.home.db, t.runId);
    expect(stats.find((w) => w.worker === 'A')).toMatchObject({ claimed: 1, done: 0, refused: 1 });
    expect(stats.find((w) => w.worker === 'B')).toMatchObject({ claimed: 1, done: 1, refused: 0 });
  });

  it('refuses the old epoch even when the same worker took the item back', async () => {
    const t = await setup(dialect);
    const first = await t.claim('A', 1_000_000);
    const expiredAt = 1_000_000 + 10 * LEASE_MS;
    await claimWorkItem(t.home.db, {
      runId: t.runId,
      owner: 'A',
      leaseMs: LEASE_MS,
      needs: {},
      now: expiredAt,
    });
    const second = await t.claim('A', expiredAt + backoffMs(1));
    expect(second.lease_epoch).toBe(first.lease_epoch + 1);
    // The stale attempt (a step that kept running after its lease was lost) cannot commit.
    expect(await completeWorkItem(t.home.db, first, 'A', t.withArtifact('A-old'))).toBe(false);
    expect(await completeWorkItem(t.home.db, second, 'A', t.withArtifact('A-new'))).toBe(true);
    expect((await t.artifactRows()).map((r) => r.path)).toEqual(['ff/A-new.webp']);
  });

  it('fences each completion of a batch on its own: a stale attempt beside the new one in one commit', async () => {
    const t = await setup(dialect);
    const first = await t.claim('A', 1_000_000);
    const expiredAt = 1_000_000 + 10 * LEASE_MS;
    await claimWorkItem(t.home.db, {
      runId: t.runId,
      owner: 'A',
      leaseMs: LEASE_MS,
      needs: {},
      now: expiredAt,
    });
    const second = await t.claim('A', expiredAt + backoffMs(1));
    // One statement marks the batch done; the row of the old epoch matches nothing, the new one commits.
    const recorded = await completeItems(t.home.db, 'A', [
      { item: first, result: t.withArtifact('A-old') },
      { item: second, result: t.withArtifact('A-new') },
    ]);
    expect(recorded).toEqual([false, true]);
    expect((await t.artifactRows()).map((r) => [r.path, r.is_current])).toEqual([['ff/A-new.webp', 1]]);
    expect(await t.home.db.selectFrom('lineage').select('worker').execute()).toEqual([{ worker: 'A-new' }]);
    const stats = await workerStatsOfRun(t.home.db, t.runId);
    expect(stats.find((w) => w.worker === 'A')).toMatchObject({ done: 1, refused: 1 });
  });

  it('renews no lease, records no failure and no skip for the worker that lost the item', async () => {
    const t = await setup(dialect);
    const { a, b, now } = await t.takeover();
    expect(await renewLeases(t.home.db, 'A', [leaseOf(a)], LEASE_MS, now)).toEqual(new Set());
    expect(
      await failWorkItem(
        t.home.db,
        a.id,
        leaseOf(a),
        { reason: 'decode-error', message: 'late', retryable: false },
        now,
      ),
    ).toBe('lost');
    expect(await skipItem(t.home.db, leaseOf(a), 'not-applicable', 'late')).toBe(false);
    // B's lease is untouched by all of it, and B's heartbeat still renews it.
    expect(await getWorkItem(t.home.db, a.id)).toMatchObject({
      status: 'running',
      lease_owner: 'B',
      lease_epoch: b.lease_epoch,
      lease_expires_at: now + LEASE_MS,
      reason: 'worker-crashed', // from the expiry of A's lease, not A's late failure
    });
    expect(await renewLeases(t.home.db, 'B', [leaseOf(b)], 5 * LEASE_MS, now)).toEqual(new Set([b.id]));
    expect((await getWorkItem(t.home.db, a.id))!.lease_expires_at).toBe(now + 5 * LEASE_MS);
  });

  it("leases by the database's clock when no clock is injected", async () => {
    const t = await setup(dialect);
    const before = Date.now();
    const item = await t.claim('A');
    const after = Date.now();
    // The database runs on this machine, so its clock is this one's: within the claim, give or take a second.
    expect(item.lease_expires_at).toBeGreaterThanOrEqual(before + LEASE_MS - 1_000);
    expect(item.lease_expires_at).toBeLessThanOrEqual(after + LEASE_MS + 1_000);
    // A claim that says it is far in the past cannot expire it: the database's clock decides.
    expect(
      await claimWorkItem(t.home.db, { runId: t.runId, owner: 'B', leaseMs: LEASE_MS, needs: {} }),
    ).toEqual({
      kind: 'wait',
    });
  });
});
