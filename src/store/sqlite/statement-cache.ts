import type BetterSqlite3 from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

/** Enough for every query shape the code has; `in (...)` lists of many lengths only churn the oldest. */
const MAX_STATEMENTS = 500;

/**
 * The database as Kysely's SQLite driver sees it, with prepared statements kept by their SQL text.
 * The driver prepares every query it runs; preparing is parsing and planning, and a worker runs the same
 * dozen statements for every item (measured: `prepare` was the largest single cost of a claim and a
 * commit). A better-sqlite3 statement can be run again as soon as the previous run returned, and every
 * query here returns all its rows at once, so sharing one is safe; a statement being iterated (`stream()`)
 * is busy, so iteration gets a fresh one.
 */
export function withStatementCache(sqlite: BetterSqlite3.Database): SqliteDatabase {
  const cache = new Map<string, BetterSqlite3.Statement>();
  const prepared = (sql: string): BetterSqlite3.Statement => {
    let statement = cache.get(sql);
    if (statement) {
      // Map order is insertion order: move it to the back so the oldest unused one goes first.
      cache.delete(sql);
    } else {
      statement = sqlite.prepare(sql);
      if (cache.size >= MAX_STATEMENTS) cache.delete(cache.keys().next().value!);
    }
    cache.set(sql, statement);
    return statement;
  };
  return {
    close: () => {
      cache.clear();
      sqlite.close();
    },
    prepare(sql: string): SqliteStatement {
      const statement = prepared(sql);
      return {
        reader: statement.reader,
        all: (parameters) => statement.all(parameters),
        run: (parameters) => statement.run(parameters),
        iterate: (parameters) => sqlite.prepare(sql).iterate(parameters),
      };
    },
  };
}
