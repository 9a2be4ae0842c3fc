import { globPrefixRange } from '../glob-prefix.js';
import { sql, type Expression, type Kysely, type SqlBool } from 'kysely';
import type { StoreDialect } from '../dialect.js';
import type { Database } from '../schema.js';

export const sqliteDialect: StoreDialect = {
  name: 'sqlite',

  async writeTransaction<T>(db: Kysely<Database>, body: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
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
  },

  claimLock: sql``,

  // unixepoch('subsec') (SQLite 3.42) has millisecond resolution; better-sqlite3 12 bundles 3.4x.
  nowMs: () => sql<number>`cast(unixepoch('subsec') * 1000 as integer)`,

  pathMatchesGlob: (column: Expression<string>, glob: string) => {
    const lowered = glob.toLowerCase();
    const matches = sql<SqlBool>`lower(${column}) glob ${lowered}`;
    const range = globPrefixRange(lowered);
    // GLOB on lower(path) gets no range of its own (the optimisation wants a bare column): the glob's
    // literal start gives one on locations_path_asset (migration 0019).
    return range
      ? sql<SqlBool>`(lower(${column}) >= ${range.from} and lower(${column}) < ${range.to} and ${matches})`
      : matches;
  },

  inValues: (column: Expression<string>, values: readonly string[]) =>
    sql<SqlBool>`${column} in (select value from json_each(${JSON.stringify(values)}))`,

  // The rowid: the b-tree's own key, so max() and order by are index lookups.
  artifactInsertionOrder: sql`rowid`,

  wakeUp: () => Promise.resolve(),

  analyze: () => Promise.resolve(),
};
