import type { Db } from './database.js';
import type { SourceRow } from './schema.js';

export async function listSources(db: Db): Promise<SourceRow[]> {
  return db.selectFrom('sources').selectAll().orderBy('name').execute();
}

export async function findSourceByName(db: Db, name: string): Promise<SourceRow | undefined> {
  return db.selectFrom('sources').selectAll().where('name', '=', name).executeTakeFirst();
}

export async function insertSource(db: Db, name: string, path: string, now: string): Promise<SourceRow> {
  return db
    .insertInto('sources')
    .values({ name, path, created_at: now })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Per source: how many locations are present and missing, for `source list`. */
export async function sourceLocationCounts(
  db: Db,
): Promise<Map<number, { present: number; missing: number }>> {
  const rows = await db
    .selectFrom('locations')
    .select(['source_id', 'status', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy(['source_id', 'status'])
    .execute();
  const counts = new Map<number, { present: number; missing: number }>();
  for (const row of rows) {
    const entry = counts.get(row.source_id) ?? { present: 0, missing: 0 };
    entry[row.status] = Number(row.n);
    counts.set(row.source_id, entry);
  }
  return counts;
}
