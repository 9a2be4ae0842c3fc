import type { Config } from '../home/config.js';
import type { RetryRule } from '../store/work-items-repository.js';

/** How long a claim holds without a heartbeat by default; heartbeats come three times per lease. */
export const LEASE_MS = 15_000;
export const HEARTBEAT_MS = LEASE_MS / 3;

/**
 * The lease a worker takes (`runs.leaseSec`): how long a worker that stops heartbeating (frozen by
 * SIGSTOP, a host cut off) keeps its items before they are given to another and it is replaced.
 */
export function leaseMsOf(config: Config): number {
  return (config.runs.leaseSec ?? LEASE_MS / 1000) * 1000;
}

/** Wait before attempt n+1: 0.5 s, 1 s, 2 s, ... capped at 30 s. Quick for a flaky NAS, gentle on a crash loop. */
export function backoffMs(attemptsSoFar: number): number {
  return Math.min(30_000, 500 * 2 ** Math.max(0, attemptsSoFar - 1));
}

/**
 * The one retry rule, for every failed attempt (a step's failure, a crash the coordinator saw, a lease
 * that expired): a retryable reason is tried again after a backoff until the attempts are used up; then,
 * or at once for a reason that cannot get better, the item is `failed` and the run goes on.
 */
export const retryRule: RetryRule = (attemptsSoFar, maxAttempts, retryable) =>
  retryable && attemptsSoFar < maxAttempts
    ? { retry: true, backoffMs: backoffMs(attemptsSoFar) }
    : { retry: false };
