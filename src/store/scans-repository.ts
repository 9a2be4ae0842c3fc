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

/** The summary of a source's newest finished catalog (its problems list names every file it could not take). */
export async function lastScanSummary(
  db: Db,
  sourceId: number,
): Promise<{ finishedAt: string; summary: unknown } | undefined> {
  const row = await db
    .selectFrom('scans')
    .select(['finished_at', 'summary_json'])
    .where('source_id', '=', sourceId)
    .where('finished_at', 'is not', null)
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (!row?.finished_at || !row.summary_json) return undefined;
  return { finishedAt: row.finished_at, summary: JSON.parse(row.summary_json) as unknown };
}
