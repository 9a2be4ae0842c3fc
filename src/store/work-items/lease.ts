import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../database.js';
import { dialectOf } from '../dialect.js';
import type { WorkItemRow } from '../schema.js';

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
export function clockOf(db: Db, now: number | undefined): RawBuilder<number> {
  return now === undefined ? dialectOf(db).nowMs() : sql<number>`cast(${now} as bigint)`;
}
