import { PostgresAdapter, sql, type Expression, type Kysely, type RawBuilder, type SqlBool } from 'kysely';
import { postgresDialect } from './postgres/postgres-dialect.js';
import type { Database } from './schema.js';
import { sqliteDialect } from './sqlite/sqlite-dialect.js';

type Db = Kysely<Database>;

/**
 * Everything that differs between SQLite and PostgreSQL in the queries, as Kysely lays out its own
 * dialects: each database has one object in its folder (src/store/sqlite, src/store/postgres), and the
 * repositories ask `dialectOf(db)` instead of testing which database they talk to. Opening, identity,
 * the integrity check and the migration lock belong to the opened database (see database.ts).
 */
export interface StoreDialect {
  readonly name: 'sqlite' | 'postgres';
  /**
   * A read-then-write transaction. SQLite takes the write lock up front (`BEGIN IMMEDIATE`): a deferred
   * transaction that reads and then writes fails with SQLITE_BUSY when another process wrote in between.
   * PostgreSQL runs a plain transaction; its claims lock only the rows they take (`lockClaimed`).
   */
  writeTransaction<T>(db: Db, body: (trx: Db) => Promise<T>): Promise<T>;
  /**
   * The tail of the select that picks the rows a claim takes: `FOR UPDATE SKIP LOCKED` on PostgreSQL,
   * so concurrent claimers take different rows without waiting; nothing on SQLite, whose claim already
   * holds the database's write lock.
   */
  readonly claimLock: RawBuilder<unknown>;
  /** The database's clock in milliseconds since the epoch: leases never depend on a host's clock. */
  nowMs(): RawBuilder<number>;
  /** A path glob, case-insensitive, where `*` and `?` also match `/` (`2019/*` is everything under 2019). */
  pathMatchesGlob(column: Expression<string>, glob: string): RawBuilder<SqlBool>;
  /** `column in (values)` with one bound parameter however many values (SQLite caps parameters). */
  inValues(column: Expression<string>, values: readonly string[]): RawBuilder<SqlBool>;
  /** A column that grows with insertion order of `artifacts`, answered from an index. */
  readonly artifactInsertionOrder: RawBuilder<unknown>;
  /**
   * Tells idle workers on any host that something changed (see wake-ups.ts): PostgreSQL's NOTIFY, sent
   * when the caller's transaction commits; nothing on SQLite, whose workers all poll one local file.
   */
  wakeUp(db: Db, hint: string): Promise<void>;
  /**
   * After a bulk insert (a new run's items): the planner's statistics of `table` brought up to date on
   * PostgreSQL, whose autovacuum may take a minute to notice; nothing on SQLite, whose planner keeps none.
   */
  analyze(db: Db, table: 'work_items'): Promise<void>;
}

/** The dialect of a connection or transaction, told by the Kysely adapter it was made with. */
export function dialectOf(db: Db): StoreDialect {
  return db.getExecutor().adapter instanceof PostgresAdapter ? postgresDialect : sqliteDialect;
}

/** Case-sensitive prefix match on a hex id; the escaped LIKE means the same on both dialects. */
export function startsWith(column: Expression<string>, prefix: string): RawBuilder<SqlBool> {
  const escaped = prefix.replace(/[\\%_]/g, (c) => `\\${c}`);
  return sql<SqlBool>`${column} like ${`${escaped}%`} escape '\\'`;
}

/** `dialectOf(db).writeTransaction(db, body)`, for the repositories. */
export function withWriteLock<T>(db: Db, body: (trx: Db) => Promise<T>): Promise<T> {
  return dialectOf(db).writeTransaction(db, body);
}
