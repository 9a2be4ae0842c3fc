import fs from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { ArchivistError } from '../../errors.js';
import type { OpenDatabase } from '../database.js';
import type { Database } from '../schema.js';
import { WakeUpHub } from '../wake-ups.js';
import { sqliteDialect } from './sqlite-dialect.js';
import { withStatementCache } from './statement-cache.js';

/**
 * `PRAGMA application_id` of an Archivist database ("ARCV"), stored in the file header: a home's database
 * is told apart from any other SQLite file by reading 100 bytes, without letting SQLite touch the file.
 */
export const APPLICATION_ID = 0x41524356;

/** The only place a raw better-sqlite3 handle exists: pragmas and the integrity check. */
export function openSqlite(file: string, options: { readonly?: boolean } = {}): OpenDatabase {
  let handle: BetterSqlite3.Database;
  try {
    handle = new BetterSqlite3(file, { readonly: options.readonly ?? false, fileMustExist: true });
    // WAL: readers (the API, `run watch`) never block the writer, and a crash leaves a consistent file.
    if (!options.readonly) handle.pragma('journal_mode = WAL');
    handle.pragma('synchronous = NORMAL');
    handle.pragma('foreign_keys = ON');
    handle.pragma('busy_timeout = 10000');
  } catch (error) {
    throw new ArchivistError('database', `cannot open the database ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(handle) }) });
  return {
    db,
    kind: 'sqlite',
    location: file,
    integrityCheck: () => {
      const rows = handle.pragma('integrity_check') as { integrity_check: string }[];
      return Promise.resolve(rows.map((r) => r.integrity_check).join('; '));
    },
    // A home made before the application id existed gets it now, so it is recognised without SQLite.
    claimIdentity: () => {
      if (!options.readonly && handle.pragma('application_id', { simple: true }) !== APPLICATION_ID)
        handle.pragma(`application_id = ${APPLICATION_ID}`);
      return Promise.resolve();
    },
    // Kysely's SQLite adapter takes no migration lock (it assumes one process): two commands opening
    // an old home at once would both migrate. The write transaction (BEGIN IMMEDIATE) makes the second
    // wait for the first.
    withMigrationLock: (body) => sqliteDialect.writeTransaction(db, body),
    serverFacts: () =>
      Promise.resolve({
        kind: 'sqlite',
        version: handle.prepare('select sqlite_version() as v').pluck().get() as string,
      }),
    listenForWakeUps: () => new WakeUpHub(),
    close: () => db.destroy(),
  };
}

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
  const handle = new BetterSqlite3(file);
  handle.pragma(`application_id = ${APPLICATION_ID}`);
  handle.pragma('journal_mode = WAL');
  handle.close();
}
