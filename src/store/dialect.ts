import { sql, type Expression, type RawBuilder, type SqlBool } from 'kysely';

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
