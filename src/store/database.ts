import fs from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { ArchivistError } from '../errors.js';
import { MIGRATIONS, migrationProvider } from './migrations/index.js';
import type { Database } from './schema.js';
import { withStatementCache } from './statement-cache.js';

export type Db = Kysely<Database>;

export interface OpenDatabase {
  db: Db;
  /** The raw handle, for pragmas and the integrity check; queries go through `db`. */
  sqlite: BetterSqlite3.Database;
  close(): Promise<void>;
}

export function openSqlite(file: string, options: { readonly?: boolean } = {}): OpenDatabase {
  let sqlite: BetterSqlite3.Database;
  try {
    sqlite = new BetterSqlite3(file, { readonly: options.readonly ?? false, fileMustExist: true });
    // WAL: readers (the API, `run watch`) never block the writer, and a crash leaves a consistent file.
    if (!options.readonly) sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 10000');
  } catch (error) {
    throw new ArchivistError('database', `cannot open the database ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  return {
    db,
    sqlite,
    close: () => db.destroy(),
  };
}

/**
 * `PRAGMA application_id` of an Archivist database ("ARCV"), stored in the file header: a home's database
 * is told apart from any other SQLite file by reading 100 bytes, without letting SQLite touch the file.
 */
export const APPLICATION_ID = 0x41524356;

/**
 * The 100-byte header of a SQLite file, read with plain read-only I/O; undefined when the file is not a
 * SQLite database. Opening a foreign WAL-mode database with SQLite, even read-only, would create `-wal` and
 * `-shm` files beside it.
 */
export function readSqliteHeader(file: string): { applicationId: number; walMode: boolean } | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const header = Buffer.alloc(100);
    if (fs.readSync(fd, header, 0, 100, 0) < 100) return undefined;
    if (header.toString('latin1', 0, 16) !== 'SQLite format 3\0') return undefined;
    // Offsets 18 and 19 (write and read format versions) are 2 in WAL mode; 68 is the application id.
    return { applicationId: header.readUInt32BE(68), walMode: header[18] === 2 || header[19] === 2 };
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Creates an empty database file (WAL mode) for a new home. */
export function createSqlite(file: string): void {
  const sqlite = new BetterSqlite3(file);
  sqlite.pragma(`application_id = ${APPLICATION_ID}`);
  sqlite.pragma('journal_mode = WAL');
  sqlite.close();
}

/** Names of the migrations this database has applied, oldest first. */
function appliedMigrations(sqlite: BetterSqlite3.Database): string[] {
  const table = sqlite
    .prepare("select name from sqlite_master where type = 'table' and name = 'kysely_migration'")
    .get();
  if (!table) return [];
  return (sqlite.prepare('select name from kysely_migration order by name').all() as { name: string }[]).map(
    (row) => row.name,
  );
}

/**
 * Brings the schema up to date. A home written by a newer Archivist is refused rather than guessed at:
 * running old code on a newer schema could lose data it does not know about.
 */
export async function migrate(open: OpenDatabase, homePath: string): Promise<void> {
  const unknown = appliedMigrations(open.sqlite).filter((name) => !(name in MIGRATIONS));
  if (unknown.length > 0) {
    throw new ArchivistError(
      'home-too-new',
      `the home ${homePath} was written by a newer Archivist (migrations ${unknown.join(', ')})`,
      { hint: 'Upgrade Archivist, or use another --home.' },
    );
  }
  const migrator = new Migrator({ db: open.db, provider: migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new ArchivistError(
      'database',
      `migration ${failed} failed: ${error instanceof Error ? error.message : JSON.stringify(error)}`,
      { cause: error },
    );
  }
}

export function integrityCheck(sqlite: BetterSqlite3.Database): string {
  const rows = sqlite.pragma('integrity_check') as { integrity_check: string }[];
  return rows.map((r) => r.integrity_check).join('; ');
}
