import type { Db } from '../store/database.js';
import type { WorkItemRow } from '../store/schema.js';
import {
  completeItems,
  failItem,
  type DoneResult,
  type FailureRecord,
  type Lease,
} from '../store/work-items-repository.js';
import { retryRule } from './lease.js';

export type { DoneResult, FailureRecord };

/**
 * Marks one item done: artifact row, lineage and `done` in one transaction, committed only after the
 * artifact file was renamed into the store (the caller's job) and only while `owner` still holds the
 * lease it claimed (`item.lease_epoch`). False when that lease was taken over.
 */
export async function completeWorkItem(
  db: Db,
  item: WorkItemRow,
  owner: string,
  result: DoneResult,
): Promise<boolean> {
  const [ok] = await completeItems(db, owner, [{ item, result }]);
  return ok!;
}

/**
 * Records a failed attempt by the retry rule. `lease` is the worker's fence; null means the caller knows
 * the worker is gone (the coordinator saw it die), and `failure.worker` says whom to count it for.
 */
export function failWorkItem(
  db: Db,
  itemId: number,
  lease: Lease | null,
  failure: FailureRecord & { worker?: string },
  now?: number,
): Promise<'retrying' | 'failed' | 'lost'> {
  return failItem(db, itemId, lease, failure, retryRule, now);
}
