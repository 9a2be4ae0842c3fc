import { globPrefixRange } from '../glob-prefix.js';
import { sql, type Expression, type Kysely, type SqlBool } from 'kysely';
import type { StoreDialect } from '../dialect.js';
import type { Database } from '../schema.js';

/**
 * A path glob as a POSIX regular expression: `*` is `.*`, `?` is `.`, `[...]` stays a class (`[!a]`
 * becomes `[^a]`), everything else is literal. Anchored at both ends like GLOB.
 */
export function globToRegex(glob: string): string {
  let out = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end === -1) {
        out += '\\[';
        continue;
      }
      let body = glob.slice(i + 1, end);
      if (body.startsWith('!')) body = `^${body.slice(1)}`;
      out += `[${body.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else out += c.replace(/[.+^${}()|\\\]]/g, (m) => `\\${m}`);
  }
  return `${out}$`;
}

/** The channel Archivist's wake-up hints travel on (LISTEN/NOTIFY). */
export const WAKE_UP_CHANNEL = 'archivist_wake_up';

export const postgresDialect: StoreDialect = {
  name: 'postgres',

  writeTransaction<T>(db: Kysely<Database>, body: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
    return db.transaction().execute(body);
  },

  claimLock: sql`for update skip locked`,

  // clock_timestamp(), not now(): now() is the transaction's start, and a claim may wait on a lock. As a
  // scalar subquery it is read once per statement (an init plan), not once per row a filter looks at: a
  // claim's `not_before <= clock` otherwise called it, with its numeric arithmetic, for every pending item.
  nowMs: () => sql<number>`(select (extract(epoch from clock_timestamp()) * 1000)::bigint)`,

  pathMatchesGlob: (column: Expression<string>, glob: string) => {
    const lowered = glob.toLowerCase();
    const matches = sql<SqlBool>`lower(${column}) ~ ${globToRegex(lowered)}`;
    const range = globPrefixRange(lowered);
    // The regular expression has no index range of its own: the glob's literal start gives one, in byte
    // order ("C"), the order of locations_path_asset (migration 0019).
    return range
      ? sql<SqlBool>`(lower(${column}) collate "C" >= ${range.from} and lower(${column}) collate "C" < ${range.to} and ${matches})`
      : matches;
  },

  inValues: (column: Expression<string>, values: readonly string[]) =>
    sql<SqlBool>`${column} = any(${[...values]}::text[])`,

  // No rowid: created_at, indexed by migration 0005.
  artifactInsertionOrder: sql`created_at`,

  // Inside a transaction the notification goes out when it commits, and not at all if it rolls back.
  wakeUp: async (db, hint) => {
    await sql`select pg_notify(${WAKE_UP_CHANNEL}, ${hint})`.execute(db);
  },

  analyze: async (db, table) => {
    await sql`analyze ${sql.table(table)}`.execute(db);
  },
};
