import type { Db } from '../store/database.js';

/** How long a claim holds without a heartbeat; heartbeats come three times per lease. */
export const LEASE_MS = 15_000;
export const HEARTBEAT_MS = LEASE_MS / 3;

/** Wait before attempt n+1: 0.5 s, 1 s, 2 s, ... capped at 30 s. Quick for a flaky NAS, gentle on a crash loop. */
export function backoffMs(attemptsSoFar: number): number {
  return Math.min(30_000, 500 * 2 ** Math.max(0, attemptsSoFar - 1));
}

/** Extends our lease; false means it is no longer ours (expired and reclaimed): stop working on it. */
export async function extendLease(db: Db, itemId: number, owner: string, until: number): Promise<boolean> {
  const result = await db
    .updateTable('work_items')
    .set({ lease_expires_at: until })
    .where('id', '=', itemId)
    .where('lease_owner', '=', owner)
    .where('status', '=', 'running')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Extends every lease a worker holds (the item it works on and those it claimed ahead). */
export async function extendLeases(db: Db, owner: string, until: number): Promise<number> {
  const result = await db
    .updateTable('work_items')
    .set({ lease_expires_at: until })
    .where('lease_owner', '=', owner)
    .where('status', '=', 'running')
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
