import { sql, type RawBuilder } from 'kysely';
import type { Db } from './database.js';

/** A worker's id is `host:pid`; its host is everything before the last colon. */
export function hostOfWorker(worker: string): string {
  const colon = worker.lastIndexOf(':');
  return colon > 0 ? worker.slice(0, colon) : worker;
}

type Counts = Partial<Record<'claimed' | 'done' | 'failed' | 'refused' | 'skipped' | 'released', number>>;

/**
 * A worker's figures gathered over one transaction (its completions, then its claim) and written by one
 * upsert at the end: on PostgreSQL every statement is a round trip, and a claim that commits the
 * worker's finished items used to count them and itself in two.
 */
export class WorkerTally {
  private readonly byRun = new Map<string, Counts>();

  add(runId: string, counts: Counts): void {
    const sum = this.byRun.get(runId) ?? {};
    for (const [key, value] of Object.entries(counts) as [keyof Counts, number][])
      sum[key] = (sum[key] ?? 0) + value;
    this.byRun.set(runId, sum);
  }

  /** One upsert per run counted (a worker serves one run: one statement). */
  async write(trx: Db, worker: string, clock: RawBuilder<number>): Promise<void> {
    for (const [runId, counts] of this.byRun) await countForWorker(trx, runId, worker, counts, clock);
    this.byRun.clear();
  }
}

/**
 * Adds to a worker's figures in a run (and notes it is alive), inside the caller's transaction: a
 * worker's claims, completions and refusals are counted in the same commit as what they count.
 */
export async function countForWorker(
  trx: Db,
  runId: string,
  worker: string,
  counts: Counts,
  clock: RawBuilder<number>,
): Promise<void> {
  const value = (key: keyof Counts) => counts[key] ?? 0;
  await trx
    .insertInto('run_workers')
    .values({
      run_id: runId,
      worker,
      host: hostOfWorker(worker),
      claimed: value('claimed'),
      done: value('done'),
      failed: value('failed'),
      refused: value('refused'),
      skipped: value('skipped'),
      released: value('released'),
      first_seen_at: clock,
      last_heartbeat_at: clock,
    })
    .onConflict((oc) =>
      oc.columns(['run_id', 'worker']).doUpdateSet({
        claimed: sql`run_workers.claimed + excluded.claimed`,
        done: sql`run_workers.done + excluded.done`,
        failed: sql`run_workers.failed + excluded.failed`,
        refused: sql`run_workers.refused + excluded.refused`,
        skipped: sql`run_workers.skipped + excluded.skipped`,
        released: sql`run_workers.released + excluded.released`,
        last_heartbeat_at: sql`excluded.last_heartbeat_at`,
      }),
    )
    .execute();
}

/** A heartbeat of a worker that holds nothing right now still says it is alive. */
export async function noteWorkerAlive(
  db: Db,
  runId: string,
  worker: string,
  clock: RawBuilder<number>,
): Promise<void> {
  await countForWorker(db, runId, worker, {}, clock);
}

export interface WorkerStats {
  worker: string;
  host: string;
  claimed: number;
  done: number;
  failed: number;
  refused: number;
  skipped: number;
  released: number;
  lastHeartbeatAt: string;
}

/** `workerStats` of the run JSON: every worker process that took part, on any host, by host. */
export async function workerStatsOfRun(db: Db, runId: string): Promise<WorkerStats[]> {
  const rows = await db
    .selectFrom('run_workers')
    .selectAll()
    .where('run_id', '=', runId)
    .orderBy('host')
    .orderBy('first_seen_at')
    .execute();
  return rows.map((row) => ({
    worker: row.worker,
    host: row.host,
    claimed: Number(row.claimed),
    done: Number(row.done),
    failed: Number(row.failed),
    refused: Number(row.refused),
    skipped: Number(row.skipped),
    released: Number(row.released),
    lastHeartbeatAt: new Date(Number(row.last_heartbeat_at)).toISOString(),
  }));
}
