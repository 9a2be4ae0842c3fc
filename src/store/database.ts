import { Migrator, type Kysely } from 'kysely';
import { ArchivistError } from '../errors.js';
import { MIGRATIONS, migrationProvider, type MigrationContext } from './migrations/index.js';
import { isPostgresUrl } from './postgres/postgres-url.js';
import type { Database } from './schema.js';
import type { WakeUps } from './wake-ups.js';
import { openSqlite } from './sqlite/sqlite-database.js';

export type Db = Kysely<Database>;

/** What `doctor` shows of the database server (SQLite: the library's version). */
export interface ServerFacts {
  kind: 'sqlite' | 'postgres';
  version: string;
  latencyMs?: number;
  pool?: { max: number; total: number; idle: number; waiting: number };
}

/**
 * An opened database, whichever it is. Queries go through `db` (Kysely) and the repositories; the few
 * things that are not queries (the integrity check, the migration lock, the file's identity) are here,
 * implemented once per dialect in src/store/sqlite and src/store/postgres.
 */
export interface OpenDatabase {
  db: Db;
  kind: 'sqlite' | 'postgres';
  /** A file path, or the URL without its password: for messages. */
  location: string;
  /** `ok`, or what is wrong. */
  integrityCheck(): Promise<string>;
  /** Marks the database as Archivist's where the format has a place for it (SQLite's application id). */
  claimIdentity(): Promise<void>;
  /** Runs `body` holding the lock that keeps two processes from migrating at once. */
  withMigrationLock<T>(body: (db: Db) => Promise<T>): Promise<T>;
  serverFacts(): Promise<ServerFacts>;
  /** Wake-up hints from any host (wake-ups.ts): LISTEN on PostgreSQL; on SQLite none ever come. */
  listenForWakeUps(): WakeUps;
  close(): Promise<void>;
}

export type DatabaseTarget = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string };

/** `postgres://...` is PostgreSQL; anything else is a SQLite file. */
export function databaseTarget(urlOrFile: string): DatabaseTarget {
  return isPostgresUrl(urlOrFile)
    ? { kind: 'postgres', url: urlOrFile }
    : { kind: 'sqlite', file: urlOrFile };
}

export async function openDatabase(
  target: DatabaseTarget,
  options: { readonly?: boolean; poolSize?: number } = {},
): Promise<OpenDatabase> {
  if (target.kind === 'sqlite') return openSqlite(target.file, options);
  // Loaded only for PostgreSQL: `pg` (with what it pulls in) is a good part of a process's start-up,
  // and a SQLite home's workers are started for every run.
  const { checkReachable, openPostgres } = await import('./postgres/postgres-database.js');
  const open = openPostgres(target.url, options);
  await checkReachable(open);
  return open;
}

/** Names of the migrations this database has applied, oldest first (none on an empty database). */
export async function appliedMigrations(db: Db): Promise<string[]> {
  try {
    const rows = await (db as unknown as Kysely<{ kysely_migration: { name: string } }>)
      .selectFrom('kysely_migration')
      .select('name')
      .orderBy('name')
      .execute();
    return rows.map((row) => row.name);
  } catch (error) {
    // A new database has no migration table yet (SQLite: "no such table"; PostgreSQL: 42P01).
    const code = error && typeof error === 'object' && 'code' in error ? String(error.code) : '';
    if (code === '42P01' || /no such table/i.test(String(error))) return [];
    throw error;
  }
}

/**
 * Brings the schema up to date. A database written by a newer Archivist is refused rather than guessed
 * at: running old code on a newer schema could lose data it does not know about.
 */
export async function migrate(
  open: OpenDatabase,
  where: string,
  context: MigrationContext = {},
): Promise<void> {
  // Up to date (every command but the first after an upgrade): one read, no lock, no Migrator. A
  // command that only reads never takes SQLite's write lock for this.
  const before = await appliedMigrations(open.db);
  if (
    Object.keys(MIGRATIONS).every((name) => before.includes(name)) &&
    before.every((name) => name in MIGRATIONS)
  )
    return;
  await open.withMigrationLock(async (db) => {
    const unknown = (await appliedMigrations(db)).filter((name) => !(name in MIGRATIONS));
    if (unknown.length > 0) {
      throw new ArchivistError(
        'home-too-new',
        `the database of ${where} was written by a newer Archivist (migrations ${unknown.join(', ')})`,
        { hint: 'Upgrade Archivist, or use another --home.' },
      );
    }
    const migrator = new Migrator({
      db,
      provider: migrationProvider(open.kind, context),
      // SQLite: the migration lock is already our transaction.
      disableTransactions: open.kind === 'sqlite',
    });
    const { error, results } = await migrator.migrateToLatest();
    if (error) {
      const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
      throw new ArchivistError(
        'database',
        `migration ${failed} failed: ${error instanceof Error ? error.message : JSON.stringify(error)}`,
        { cause: error },
      );
    }
  });
}

/**
 * The database's lock stayed taken past the wait allowed (SQLite's `busy_timeout`, 10 s; PostgreSQL's
 * `lock_not_available`). Our transactions last milliseconds, so some process holding it that long is
 * frozen or killed mid-way; once it is gone the lock is free, and the same write can be tried again.
 */
export function isLockWaitTimeout(error: unknown): boolean {
  if (!error || typeof error !== 'object' || !('code' in error) || typeof error.code !== 'string')
    return false;
  return error.code.startsWith('SQLITE_BUSY') || error.code === '55P03';
}

/** PostgreSQL's SQLSTATE classes and Node's socket errors that mean "the connection went", not "the query is wrong". */
const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  '57P01',
  '57P02',
  '57P03',
]);

/**
 * True for an error that a new connection may not have: the server restarted or is starting, the link
 * dropped. Such an error is retried with backoff by the run engine; any other is a real failure.
 */
export function isTransientDatabaseError(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false;
  const code = 'code' in error && typeof error.code === 'string' ? error.code : '';
  if (TRANSIENT_CODES.has(code) || code.startsWith('08')) return true; // 08xxx: connection exceptions
  const message = error instanceof Error ? error.message : '';
  return /Connection terminated|connection timeout|Client has encountered a connection error/i.test(message);
}
