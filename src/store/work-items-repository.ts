/**
 * Work items and their leases, one file per operation under work-items/: the fence (lease.ts), claims
 * (claim.ts), heartbeats and releases (renew-release.ts), completions (complete.ts), failures and skips
 * (fail-skip.ts), and the reads (reads.ts). Re-exported here so callers import one module.
 */
export * from './work-items/lease.js';
export * from './work-items/claim.js';
export * from './work-items/renew-release.js';
export * from './work-items/complete.js';
export * from './work-items/fail-skip.js';
export * from './work-items/reads.js';
