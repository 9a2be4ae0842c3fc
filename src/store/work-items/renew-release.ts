import { sql } from 'kysely';
import type { Db } from '../database.js';
import { dialectOf } from '../dialect.js';
import { countForWorker } from '../run-workers-repository.js';
import { formatHint } from '../wake-ups.js';
import { clockOf, type Lease } from './lease.js';

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
  const released = Number(result.numUpdatedRows);
  // A worker's own give-back is in its figures (claimed = finished + released + lost). Bulk releases of a
  // run (its workers gone or stopped) name no owner: those items are what the dead workers lost.
  if (where.owner && released > 0)
    await countForWorker(db, where.runId, where.owner, { released }, dialectOf(db).nowMs());
  // Items to claim again: a worker waiting on another host takes them now, not at its next poll.
  if (released > 0) await dialectOf(db).wakeUp(db, formatHint({ kind: 'items', runId: where.runId }));
  return released;
}
