import { sql } from 'kysely';
import type { Db } from './database.js';
import { dialectOf } from './dialect.js';

/** The advisory lock key of "the artifact store's files" on PostgreSQL ("ARCS"). */
const STORE_FILES_LOCK = 0x41524353;

/**
 * Serializes two things inside their transactions: a completion committing rows for files it put in the
 * store (`shared`: completions do not wait for each other) and a sweep deleting store files that no row
 * names (`exclusive`). On SQLite every write transaction holds the database's one write lock already
 * (BEGIN IMMEDIATE), which serializes them just the same; on PostgreSQL an advisory transaction lock does.
 */
export async function lockStoreFiles(trx: Db, mode: 'shared' | 'exclusive'): Promise<void> {
  if (dialectOf(trx).name !== 'postgres') return;
  const lock = mode === 'shared' ? sql`pg_advisory_xact_lock_shared` : sql`pg_advisory_xact_lock`;
  await sql`select ${lock}(${STORE_FILES_LOCK})`.execute(trx);
}

/** Which of these store paths an artifact row names. */
export async function pathsWithRows(trx: Db, paths: readonly string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < paths.length; i += 500) {
    const chunk = paths.slice(i, i + 500);
    const rows = await trx
      .selectFrom('artifacts')
      .select('path')
      .where((eb) => dialectOf(trx).inValues(eb.ref('path'), chunk))
      .execute();
    for (const row of rows) found.add(row.path);
  }
  return found;
}
