import { execFileSync } from 'node:child_process';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { REPO_ROOT } from './cli.js';

/** Where a test home's database is: its SQLite file, or the PostgreSQL URL it was made with. */
export type TestDatabase = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string };

const PG_QUERY = path.join(REPO_ROOT, 'test', 'support', 'pg-query.mjs');

/**
 * One read-only query, synchronously, on either dialect: `?` placeholders, rows as plain objects. SQLite
 * through a connection opened and closed at once; PostgreSQL through a child process (pg-query.mjs), since
 * node-postgres has no synchronous API.
 */
export function queryDatabase<T>(database: TestDatabase, sql: string, params: readonly unknown[] = []): T[] {
  if (database.kind === 'sqlite') {
    const db = new BetterSqlite3(database.file, { readonly: true, fileMustExist: true });
    try {
      db.pragma('busy_timeout = 10000');
      return db.prepare(sql).all(...params) as T[];
    } finally {
      db.close();
    }
  }
  let n = 0;
  const text = sql.replace(/\?/g, () => `$${++n}`);
  const out = execFileSync(process.execPath, [PG_QUERY], {
    input: JSON.stringify({ url: database.url, sql: text, params }),
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  return JSON.parse(out) as T[];
}

/**
 * One write on either dialect, for a test that must put a home's database into a state no command makes
 * (a threshold recorded on another disk): `?` placeholders, like `queryDatabase`.
 */
export function writeDatabase(database: TestDatabase, sql: string, params: readonly unknown[] = []): void {
  if (database.kind === 'postgres') {
    queryDatabase(database, sql, params);
    return;
  }
  const db = new BetterSqlite3(database.file, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 10000');
    db.prepare(sql).run(...params);
  } finally {
    db.close();
  }
}

/** The integrity check of the database: SQLite's own; on PostgreSQL, the server's pages are its concern. */
export function databaseIntegrity(database: TestDatabase): string {
  if (database.kind === 'postgres') return 'ok';
  const db = new BetterSqlite3(database.file, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 10000');
    return db.pragma('integrity_check', { simple: true }) as string;
  } finally {
    db.close();
  }
}
