import type { Db } from './database.js';

/** One value of the `meta` table (the home marker, its creation time, the archive's id). */
export async function readMeta(db: Db, key: string): Promise<string | undefined> {
  const row = await db.selectFrom('meta').select('value').where('key', '=', key).executeTakeFirst();
  return row?.value;
}

/** Sets values that are not set yet; a value once written (the archive's id above all) stays. */
export async function writeMetaOnce(db: Db, values: Readonly<Record<string, string>>): Promise<void> {
  const rows = Object.entries(values).map(([key, value]) => ({ key, value }));
  if (rows.length === 0) return;
  await db
    .insertInto('meta')
    .values(rows)
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
}
