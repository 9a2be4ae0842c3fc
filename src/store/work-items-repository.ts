import { sql, type RawBuilder } from 'kysely';
import {
  deleteNewArtifact,
  makeCurrent,
  recordArtifact,
  type Lineage,
  type NewArtifact,
} from './artifacts-repository.js';
import type { Db } from './database.js';
import { dialectOf, withWriteLock } from './dialect.js';
import type { RunStatus, WorkItemRow } from './schema.js';
import { countForWorker } from './run-workers-repository.js';
import type { CaptureFacts } from '../catalog/capture-facts.js';
import { recordCaptureFacts } from './asset-facts-repository.js';

/**
 * Work items and their leases: claims, heartbeats, completions, failures. Every write that a worker makes
 * about an item it holds is fenced by (owner, lease epoch): a claim bumps the epoch, so a worker whose lease
 * expired and was taken over matches no row any more, and the updated row count says so.
 */

/** An item as a worker holds it: the fence its writes must match. */
export interface Lease {
  id: number;
  owner: string;
  epoch: number;
}

export function leaseOf(item: WorkItemRow): Lease {
  return { id: item.id, owner: item.lease_owner ?? '', epoch: item.lease_epoch };
}

/** What to do after a failed attempt: the one retry rule (src/runs/lease.ts) decides, the store records. */
export type RetryRule = (
  attemptsSoFar: number,
  maxAttempts: number,
  retryable: boolean,
) => { retry: true; backoffMs: number } | { retry: false };

/** Milliseconds now: an injected clock (tests) or else the database's own. */
function clockOf(db: Db, now: number | undefined): RawBuilder<number> {
  return now === undefined ? dialectOf(db).nowMs() : sql<number>`cast(${now} as bigint)`;
}

export type ClaimResult =
  /** `item` is the first of `items`; a worker asks for several at once only while items are fast. */
  | { kind: 'claimed'; item: WorkItemRow; items: WorkItemRow[] }
  /** Items remain but none can start yet (backoff, or waiting for an earlier step). */
  | { kind: 'wait' }
  /** Nothing pending or running is left. */
  | { kind: 'finished' }
  /** The run is no longer `running` (cancelling, paused, ...): stop claiming. */
  | { kind: 'stopped'; status: RunStatus };

export interface ClaimRequest {
  runId: string;
  owner: string;
  leaseMs: number;
  /** step -> the earlier steps whose artifacts it needs. */
  needs: Readonly<Record<string, readonly string[]>>;
  limit: number;
  retryRule: RetryRule;
  /** An injected clock (tests); the database's clock otherwise. */
  now?: number;
  /** Runs first inside the claim's transaction: the worker commits its finished items with its claim. */
  before?: (trx: Db) => Promise<void>;
}

/**
 * One transaction per batch: expired leases of the run go back to pending (or fail), then one statement
 * takes up to `limit` pending items whose wait is over and whose inputs are done, leasing them to `owner`
 * with a new epoch and counting the attempt now, so a worker that dies mid-item still used it.
 */
export async function claimItems(db: Db, request: ClaimRequest): Promise<ClaimResult> {
  const { runId, owner } = request;
  return withWriteLock(db, async (trx) => {
    await request.before?.(trx);
    const run = await trx
      .selectFrom('runs')
      .select(['status', 'max_attempts'])
      .where('id', '=', runId)
      .executeTakeFirst();
    if (!run) return { kind: 'stopped', status: 'cancelled' };
    if (run.status !== 'running') return { kind: 'stopped', status: run.status };
    const clock = clockOf(trx, request.now);
    await expireLeases(trx, runId, run.max_attempts, clock, request);

    const waiting = Object.entries(request.needs).filter(([, needs]) => needs.length > 0);
    const picked = trx
      .selectFrom('work_items as w')
      .select('w.id')
      .where('w.run_id', '=', runId)
      .where('w.status', '=', 'pending')
      .where('w.not_before', '<=', clock)
      .where((eb) => {
        if (waiting.length === 0) return eb.lit(true);
        // An item whose step needs earlier steps' artifacts waits until those items are done.
        const blocked = waiting.map(([step, needs]) =>
          eb.and([
            eb('w.step', '=', step),
            eb.exists(
              eb
                .selectFrom('work_items as d')
                .select(sql`1`.as('one'))
                .whereRef('d.run_id', '=', 'w.run_id')
                .whereRef('d.asset_id', '=', 'w.asset_id')
                .where('d.step', 'in', needs)
                .where('d.status', '!=', 'done'),
            ),
          ]),
        );
        return eb.not(eb.or(blocked));
      })
      .orderBy('w.order_key')
      .orderBy('w.step_index')
      .limit(request.limit)
      .modifyEnd(dialectOf(trx).claimLock);
    const items = await trx
      .updateTable('work_items')
      .set({
        status: 'running',
        attempts: sql`attempts + 1`,
        lease_epoch: sql`lease_epoch + 1`,
        lease_owner: owner,
        lease_expires_at: sql`${clock} + ${request.leaseMs}`,
        started_at: new Date(request.now ?? Date.now()).toISOString(),
      })
      .where('id', 'in', picked)
      .returningAll()
      .execute();

    if (items.length === 0) {
      const open = await trx
        .selectFrom('work_items')
        .select('id')
        .where('run_id', '=', runId)
        .where('status', 'in', ['pending', 'running'])
        .limit(1)
        .executeTakeFirst();
      return open ? { kind: 'wait' } : { kind: 'finished' };
    }
    // RETURNING gives no order: the claim's order is (order_key, step_index).
    items.sort((a, b) => a.order_key - b.order_key || a.step_index - b.step_index);
    await countForWorker(trx, runId, owner, { claimed: items.length }, clock);
    return { kind: 'claimed', item: items[0]!, items };
  });
}

/**
 * A lease that ran out (by the database's clock) means its worker stopped heartbeating: killed, frozen,
 * cut off. The item goes back to pending with a backoff, or fails once it used all its attempts.
 */
async function expireLeases(
  trx: Db,
  runId: string,
  maxAttempts: number,
  clock: RawBuilder<number>,
  request: ClaimRequest,
): Promise<void> {
  const expired = await trx
    .selectFrom('work_items')
    .select(['id', 'attempts', 'lease_owner', 'lease_epoch'])
    .where('run_id', '=', runId)
    .where('status', '=', 'running')
    .where('lease_expires_at', '<', clock)
    .modifyEnd(dialectOf(trx).claimLock)
    .execute();
  for (const item of expired) {
    const verdict = request.retryRule(item.attempts, maxAttempts, true);
    await trx
      .updateTable('work_items')
      .set({
        status: verdict.retry ? 'pending' : 'failed',
        lease_owner: null,
        lease_expires_at: null,
        not_before: verdict.retry ? sql`${clock} + ${verdict.backoffMs}` : 0,
        reason: 'worker-crashed',
        message: `lease expired: worker ${item.lease_owner ?? '?'} stopped heartbeating (attempt ${item.attempts} of ${maxAttempts})`,
        finished_at: verdict.retry ? null : new Date(request.now ?? Date.now()).toISOString(),
      })
      .where('id', '=', item.id)
      .where('lease_epoch', '=', item.lease_epoch)
      .where('status', '=', 'running')
      .execute();
  }
}

/**
 * Renews the leases a worker still holds (the item in hand and those claimed ahead), each only where its
 * owner and epoch still match. Returns the ids still held: any other was taken over, and its work is lost.
 */
export async function renewLeases(
  db: Db,
  owner: string,
  held: readonly Lease[],
  leaseMs: number,
  now?: number,
): Promise<Set<number>> {
  const renewed = new Set<number>();
  const clock = clockOf(db, now);
  for (let i = 0; i < held.length; i += 200) {
    const chunk = held.slice(i, i + 200);
    const rows = await db
      .updateTable('work_items')
      .set({ lease_expires_at: sql`${clock} + ${leaseMs}` })
      .where('lease_owner', '=', owner)
      .where('status', '=', 'running')
      .where((eb) => eb.or(chunk.map((l) => eb.and([eb('id', '=', l.id), eb('lease_epoch', '=', l.epoch)]))))
      .returning('id')
      .execute();
    for (const row of rows) renewed.add(row.id);
  }
  return renewed;
}

export interface DoneResult {
  durationMs: number;
  /** A new artifact with its lineage, or an existing one found by cache key (reused), or none. */
  artifact: { created: NewArtifact; lineage: Lineage } | { reusedId: string } | null;
  makeCurrent: { assetId: string; kind: string } | null;
  /** A metadata artifact's capture facts: the listings' asset_facts row is written with the artifact. */
  capture?: CaptureFacts;
}

export interface Completion {
  item: WorkItemRow;
  result: DoneResult;
}

/** `recordCompletions` in a write transaction of its own. */
export async function completeItems(
  db: Db,
  owner: string,
  entries: readonly Completion[],
): Promise<boolean[]> {
  if (entries.length === 0) return [];
  return withWriteLock(db, (trx) => recordCompletions(trx, owner, entries));
}

/**
 * Marks items done inside the caller's write transaction: per item, the artifact row, its lineage and
 * the item's `done`, committed only where owner and epoch still match (the updated row count says). A
 * refused completion leaves no row behind (its artifact file stays in the store for `gc`), is counted
 * for its worker, and is reported as false.
 */
export async function recordCompletions(
  trx: Db,
  owner: string,
  entries: readonly Completion[],
): Promise<boolean[]> {
  const recorded: boolean[] = [];
  for (const { item, result } of entries) {
    let artifactId: string | null = null;
    let reused = 0;
    if (result.artifact && 'created' in result.artifact) {
      await recordArtifact(trx, result.artifact.created, result.artifact.lineage);
      artifactId = result.artifact.created.id;
    } else if (result.artifact) {
      artifactId = result.artifact.reusedId;
      reused = 1;
    }
    const done = await trx
      .updateTable('work_items')
      .set({
        status: 'done',
        artifact_id: artifactId,
        reused,
        lease_owner: null,
        lease_expires_at: null,
        finished_at: new Date().toISOString(),
        duration_ms: result.durationMs,
        reason: null,
        message: null,
      })
      .where('id', '=', item.id)
      .where('lease_owner', '=', owner)
      .where('lease_epoch', '=', item.lease_epoch)
      .where('status', '=', 'running')
      .executeTakeFirst();
    const ours = Number(done.numUpdatedRows) === 1;
    if (!ours && result.artifact && 'created' in result.artifact) {
      // Never visible: the rows go in the same transaction that wrote them.
      await deleteNewArtifact(trx, result.artifact.created.id);
    }
    if (ours && artifactId && result.makeCurrent) {
      await makeCurrent(trx, artifactId, result.makeCurrent.assetId, result.makeCurrent.kind);
    }
    if (ours && artifactId && result.capture) {
      // The listings' facts move with the metadata, in this same transaction.
      const current = result.makeCurrent !== null;
      await recordCaptureFacts(trx, item.asset_id, artifactId, result.capture, { current });
    }
    recorded.push(ours);
  }
  const byRun = new Map<string, { done: number; refused: number }>();
  entries.forEach(({ item }, i) => {
    const counts = byRun.get(item.run_id) ?? { done: 0, refused: 0 };
    counts[recorded[i] ? 'done' : 'refused']++;
    byRun.set(item.run_id, counts);
  });
  for (const [runId, counts] of byRun)
    await countForWorker(trx, runId, owner, counts, dialectOf(trx).nowMs());
  return recorded;
}

export interface FailureRecord {
  reason: string;
  message: string;
  stderrTail?: string | null;
  retryable: boolean;
  durationMs?: number | null;
}

/**
 * Records a failed attempt: by the retry rule the item goes back to pending after a backoff, or is
 * `failed` and the run goes on. `lease` null means the caller already knows its worker is gone (the
 * coordinator saw it die); `worker` is then whom to count it for.
 */
export async function failItem(
  db: Db,
  itemId: number,
  lease: Lease | null,
  failure: FailureRecord & { worker?: string },
  retryRule: RetryRule,
  now?: number,
): Promise<'retrying' | 'failed' | 'lost'> {
  return withWriteLock(db, async (trx) => {
    const item = await trx
      .selectFrom('work_items')
      .innerJoin('runs', 'runs.id', 'work_items.run_id')
      .select([
        'work_items.status',
        'work_items.lease_owner',
        'work_items.lease_epoch',
        'work_items.attempts',
        'work_items.run_id',
        'runs.max_attempts',
      ])
      .where('work_items.id', '=', itemId)
      .executeTakeFirst();
    if (!item || item.status !== 'running') return 'lost';
    if (lease && (item.lease_owner !== lease.owner || item.lease_epoch !== lease.epoch)) return 'lost';
    const verdict = retryRule(item.attempts, item.max_attempts, failure.retryable);
    const clock = clockOf(trx, now);
    await trx
      .updateTable('work_items')
      .set({
        status: verdict.retry ? 'pending' : 'failed',
        lease_owner: null,
        lease_expires_at: null,
        not_before: verdict.retry ? sql`${clock} + ${verdict.backoffMs}` : 0,
        reason: failure.reason,
        message: failure.message,
        stderr_tail: failure.stderrTail ?? null,
        duration_ms: failure.durationMs ?? null,
        finished_at: verdict.retry ? null : new Date(now ?? Date.now()).toISOString(),
      })
      .where('id', '=', itemId)
      .where('lease_epoch', '=', item.lease_epoch)
      .execute();
    const worker = lease?.owner ?? failure.worker;
    if (worker) await countForWorker(trx, item.run_id, worker, { failed: 1 }, clock);
    return verdict.retry ? 'retrying' : 'failed';
  });
}

/** A step decided the asset is not for it (e.g. no video stream): `skipped`, with why; fenced. */
export async function skipItem(db: Db, lease: Lease, reason: string, message: string): Promise<boolean> {
  const result = await db
    .updateTable('work_items')
    .set({
      status: 'skipped',
      reason,
      message,
      lease_owner: null,
      lease_expires_at: null,
      finished_at: new Date().toISOString(),
    })
    .where('id', '=', lease.id)
    .where('lease_owner', '=', lease.owner)
    .where('lease_epoch', '=', lease.epoch)
    .where('status', '=', 'running')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * Gives items back without counting the attempt against them: the run was cancelled or paused, or its
 * coordinator vanished; the file did nothing wrong.
 */
export async function releaseItems(
  db: Db,
  where: { runId: string; owner?: string; itemId?: number; itemIds?: readonly number[] },
): Promise<number> {
  let query = db
    .updateTable('work_items')
    .set((eb) => ({
      status: 'pending',
      lease_owner: null,
      lease_expires_at: null,
      attempts: eb
        .case()
        .when('attempts', '>', 0)
        .then(eb('attempts', '-', 1))
        .else(0)
        .end(),
    }))
    .where('run_id', '=', where.runId)
    .where('status', '=', 'running');
  if (where.owner) query = query.where('lease_owner', '=', where.owner);
  if (where.itemId !== undefined) query = query.where('id', '=', where.itemId);
  if (where.itemIds !== undefined)
    query = query.where('id', 'in', where.itemIds.length > 0 ? where.itemIds : [-1]);
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/**
 * Items whose inputs can never arrive (the earlier step failed or was skipped) are skipped with the
 * reason, so coverage adds up and the run can complete.
 */
export async function skipOrphanedDependents(
  db: Db,
  runId: string,
  needs: Readonly<Record<string, readonly string[]>>,
): Promise<number> {
  let skipped = 0;
  for (const [step, required] of Object.entries(needs)) {
    if (required.length === 0) continue;
    const result = await db
      .updateTable('work_items as w')
      .set({
        status: 'skipped',
        reason: 'input-unavailable',
        message: `needs ${required.join(', ')}, which did not succeed`,
      })
      .where('w.run_id', '=', runId)
      .where('w.step', '=', step)
      .where('w.status', '=', 'pending')
      .where((eb) =>
        eb.exists(
          eb
            .selectFrom('work_items as d')
            .select('d.id')
            .whereRef('d.run_id', '=', 'w.run_id')
            .whereRef('d.asset_id', '=', 'w.asset_id')
            .where('d.step', 'in', required)
            .where('d.status', 'in', ['failed', 'skipped']),
        ),
      )
      .executeTakeFirst();
    skipped += Number(result.numUpdatedRows);
  }
  return skipped;
}

/** The artifacts of earlier steps an item needs, as the run made them for its asset. */
export async function inputsOfItem(
  db: Db,
  item: Pick<WorkItemRow, 'run_id' | 'asset_id'>,
  steps: readonly string[],
): Promise<{ step: string; id: string; path: string; sha256: string }[]> {
  if (steps.length === 0) return [];
  return db
    .selectFrom('work_items')
    .innerJoin('artifacts', 'artifacts.id', 'work_items.artifact_id')
    .select(['work_items.step', 'artifacts.id', 'artifacts.path', 'artifacts.sha256'])
    .where('work_items.run_id', '=', item.run_id)
    .where('work_items.asset_id', '=', item.asset_id)
    .where('work_items.step', 'in', steps)
    .execute();
}

export async function attemptsOf(db: Db, itemId: number): Promise<number | undefined> {
  const row = await db
    .selectFrom('work_items')
    .select('attempts')
    .where('id', '=', itemId)
    .executeTakeFirst();
  return row?.attempts;
}

export async function getWorkItem(db: Db, itemId: number): Promise<WorkItemRow | undefined> {
  return db.selectFrom('work_items').selectAll().where('id', '=', itemId).executeTakeFirst();
}

/** `run resume --include-failed`: failed items (and those skipped for want of them) start over. */
export async function reopenFailedItems(db: Db, runId: string): Promise<void> {
  await db
    .updateTable('work_items')
    .set({ status: 'pending', attempts: 0, not_before: 0, finished_at: null })
    .where('run_id', '=', runId)
    .where((eb) =>
      eb.or([
        eb('status', '=', 'failed'),
        eb.and([eb('status', '=', 'skipped'), eb('reason', '=', 'input-unavailable')]),
      ]),
    )
    .execute();
}

/** Durations of the items done by real work (not reused): the run's timing figures. */
export async function workDurations(db: Db, runId: string): Promise<{ step: string; durationMs: number }[]> {
  const rows = await db
    .selectFrom('work_items')
    .select(['step', 'duration_ms'])
    .where('run_id', '=', runId)
    .where('status', '=', 'done')
    .where('reused', '=', 0)
    .where('duration_ms', 'is not', null)
    .execute();
  return rows.map((row) => ({ step: row.step, durationMs: Number(row.duration_ms) }));
}

/** Whether any item of the run is still pending or running (one indexed row at most). */
export async function hasOpenItems(db: Db, runId: string): Promise<boolean> {
  const open = await db
    .selectFrom('work_items')
    .select('id')
    .where('run_id', '=', runId)
    .where('status', 'in', ['pending', 'running'])
    .limit(1)
    .executeTakeFirst();
  return open !== undefined;
}

/**
 * The workers holding an item of the run whose lease lapsed by the database's clock: they stopped
 * heartbeating (frozen by SIGSTOP, blocked, cut off) and are to be replaced now.
 */
export async function ownersOfLapsedLeases(db: Db, runId: string, now?: number): Promise<Set<string>> {
  const rows = await db
    .selectFrom('work_items')
    .select('lease_owner')
    .distinct()
    .where('run_id', '=', runId)
    .where('status', '=', 'running')
    .where('lease_expires_at', '<', clockOf(db, now))
    .execute();
  return new Set(rows.map((row) => row.lease_owner).filter((owner): owner is string => owner !== null));
}
