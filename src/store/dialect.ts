import { sql, type Expression, type Kysely, type RawBuilder, type SqlBool } from 'kysely';
import type { Database } from './schema.js';

/**
 * The few places where SQL differs between SQLite and PostgreSQL live here, so a second dialect is one
 * file to write, not a hunt through every query.
 */

/**
 * A path glob, case-insensitive, where `*` and `?` also match `/` (so `2019/*` means everything under
 * 2019). SQLite has GLOB built in; PostgreSQL will translate the glob to a regular expression here.
 */
export function pathMatchesGlob(column: Expression<string>, glob: string): RawBuilder<SqlBool> {
  return sql<SqlBool>`lower(${column}) glob ${glob.toLowerCase()}`;
}

/** Case-sensitive prefix match on a hex id; the escaped LIKE works on both dialects. */
export function startsWith(column: Expression<string>, prefix: string): RawBuilder<SqlBool> {
  const escaped = prefix.replace(/[\\%_]/g, (c) => `\\${c}`);
  return sql<SqlBool>`${column} like ${`${escaped}%`} escape '\\'`;
}

/**
 * A read-then-write transaction that takes the write lock up front. On SQLite that is `BEGIN IMMEDIATE`:
 * a deferred transaction that reads and then writes can fail with SQLITE_BUSY when another process wrote
 * in between, and busy_timeout does not help it. PostgreSQL will use a plain transaction with
 * `FOR UPDATE SKIP LOCKED` on the rows it claims.
 */
export async function withWriteLock<T>(
  db: Kysely<Database>,
  body: (trx: Kysely<Database>) => Promise<T>,
): Promise<T> {
  return db.connection().execute(async (connection) => {
    await sql`begin immediate`.execute(connection);
    try {
      const result = await body(connection);
      await sql`commit`.execute(connection);
      return result;
    } catch (error) {
      await sql`rollback`.execute(connection).catch(() => undefined);
      throw error;
    }
  });
}
