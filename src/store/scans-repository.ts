import type { Db } from './database.js';

export async function startScan(db: Db, sourceId: number, now: string): Promise<number> {
  const row = await db
    .insertInto('scans')
    .values({ source_id: sourceId, started_at: now })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function finishScan(db: Db, scanId: number, now: string, summary: unknown): Promise<void> {
  await db
    .updateTable('scans')
    .set({ finished_at: now, summary_json: JSON.stringify(summary) })
    .where('id', '=', scanId)
    .execute();
}

/** When each source was last cataloged to the end. */
export async function lastFinishedScans(db: Db): Promise<Map<number, string>> {
  const rows = await db
    .selectFrom('scans')
    .select(['source_id', (eb) => eb.fn.max('finished_at').as('finished_at')])
    .where('finished_at', 'is not', null)
    .groupBy('source_id')
    .execute();
  return new Map(rows.map((row) => [row.source_id, String(row.finished_at)]));
}
