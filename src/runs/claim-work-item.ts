import type { Db } from '../store/database.js';
import type { WorkerTally } from '../store/run-workers-repository.js';
import { claimItems, type ClaimResult } from '../store/work-items-repository.js';
import { retryRule } from './lease.js';

export type { ClaimResult };

export interface ClaimOptions {
  runId: string;
  owner: string;
  leaseMs: number;
  /** step -> the earlier steps whose artifacts it needs. */
  needs: Readonly<Record<string, readonly string[]>>;
  /** An injected clock for tests; the database's clock otherwise (leases never trust a host's clock). */
  now?: number;
  /** How many items to claim at most (default 1). */
  limit?: number;
  /** Runs first inside the claim's transaction: the worker commits its finished items with its claim. */
  before?: (trx: Db, tally: WorkerTally) => Promise<void>;
  /** `before` has nothing to commit: an idle worker's claim looks with reads first. */
  nothingToCommit?: boolean;
}

/**
 * Claims the next items of a run under a fenced lease (see store/work-items-repository.ts); expired
 * leases are settled first by the run's retry rule.
 */
export function claimWorkItem(db: Db, options: ClaimOptions): Promise<ClaimResult> {
  return claimItems(db, { ...options, limit: options.limit ?? 1, retryRule });
}
