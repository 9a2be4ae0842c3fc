import { setTimeout as sleep } from 'node:timers/promises';
import { isLockWaitTimeout, isTransientDatabaseError } from '../store/database.js';
import type { RunLog } from './run-log.js';

/** How long a run waits for its database to come back before the error stops the process. */
const GIVE_UP_AFTER_MS = 120_000;

/**
 * Runs `body`, and again after a backoff (0.25 s doubling to 5 s) while it fails because the connection to
 * the database went (a PostgreSQL server restarted, a link dropped): a lost connection is a pause in the
 * run, not a crash of it. So is a lock held past the wait (a frozen process holds it until it is killed).
 * What `body` writes is one transaction, so a failed try committed nothing.
 */
export async function withReconnect<T>(log: RunLog, what: string, body: () => Promise<T>): Promise<T> {
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      return await body();
    } catch (error) {
      const locked = isLockWaitTimeout(error);
      if (!(locked || isTransientDatabaseError(error)) || Date.now() - started > GIVE_UP_AFTER_MS)
        throw error;
      const waitMs = Math.min(5_000, 250 * 2 ** attempt);
      const event = locked ? 'database-locked' : 'database-unreachable';
      log.warn(
        { event, what, attempt: attempt + 1, waitMs, error: String(error) },
        `database ${locked ? 'locked' : 'unreachable'} during ${what}: retrying in ${waitMs} ms`,
      );
      await sleep(waitMs);
    }
  }
}
