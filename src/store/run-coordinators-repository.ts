import { sql } from 'kysely';
import type { Db } from './database.js';
import { dialectOf } from './dialect.js';
import { formatHint } from './wake-ups.js';
import type { RunStatus } from './schema.js';

/** A run's coordinator on the runs table: taking the run, its heartbeat, its crashes and figures. */

/**
 * A coordinator takes a run that waits for one (`queued`): status `running`, its pid and host, a first
 * heartbeat. A cancel that came first (the coordinator may take seconds to start) made it `cancelled`,
 * which must hold: false then.
 */
export async function takeRun(
  db: Db,
  id: string,
  coordinator: { pid: number; host: string; workers: number },
): Promise<boolean> {
  const taken = await db
    .updateTable('runs')
    .set((eb) => ({
      status: 'running',
      status_reason: null,
      coordinator_pid: coordinator.pid,
      coordinator_host: coordinator.host,
      heartbeat_at: Date.now(),
      workers: coordinator.workers,
      started_at: eb.fn.coalesce('started_at', eb.val(new Date().toISOString())),
    }))
    .where('id', '=', id)
    .where('status', '=', 'queued')
    .executeTakeFirst();
  const ok = Number(taken.numUpdatedRows) > 0;
  // Idle workers (`archivist worker --all`) join a run as soon as it starts.
  if (ok) await dialectOf(db).wakeUp(db, formatHint({ kind: 'run', runId: id, status: 'running' }));
  return ok;
}

/** The coordinator's heartbeat; answers the run's status as it is now. */
export async function beatRun(db: Db, id: string): Promise<RunStatus> {
  await db.updateTable('runs').set({ heartbeat_at: Date.now() }).where('id', '=', id).execute();
  const row = await db.selectFrom('runs').select('status').where('id', '=', id).executeTakeFirstOrThrow();
  return row.status;
}

/** The figures of a run that stopped; its coordinator's heartbeat ends with it. */
export async function saveRunStats(db: Db, id: string, statsJson: string): Promise<void> {
  await db
    .updateTable('runs')
    .set({ stats_json: statsJson, heartbeat_at: null })
    .where('id', '=', id)
    .execute();
}

/**
 * Runs that claim to be worked on, and queued runs a coordinator was launched for: whether their
 * coordinator is still there is for the caller to judge.
 */
export async function runsInProgress(db: Db) {
  return db
    .selectFrom('runs')
    .select(['id', 'status', 'coordinator_pid', 'coordinator_host', 'heartbeat_at'])
    .where((eb) =>
      eb.or([
        eb('status', 'in', ['running', 'cancelling']),
        eb.and([eb('status', '=', 'queued'), eb('coordinator_pid', 'is not', null)]),
      ]),
    )
    .execute();
}

/**
 * A background coordinator was started for a queued run: its pid and host are recorded before it takes
 * the run, so one that dies on the way (killed, out of memory, a broken install) leaves an `interrupted`
 * run, not one `queued` for ever.
 */
export async function noteCoordinatorLaunched(
  db: Db,
  id: string,
  coordinator: { pid: number; host: string },
): Promise<void> {
  await db
    .updateTable('runs')
    .set({ coordinator_pid: coordinator.pid, coordinator_host: coordinator.host })
    .where('id', '=', id)
    .where('status', '=', 'queued')
    .execute();
}

/** One more worker death seen by a coordinator of this run; the count spans every session of the run. */
export async function countWorkerCrash(db: Db, id: string): Promise<void> {
  await db
    .updateTable('runs')
    .set({ worker_crashes: sql`worker_crashes + 1` })
    .where('id', '=', id)
    .execute();
}
