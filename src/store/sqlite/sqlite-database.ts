import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, type Driver } from 'kysely';
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

/**
 * SQLite ends a transaction by itself on some errors (SQLITE_FULL on a full disk, SQLITE_IOERR): Kysely's
 * ROLLBACK after it then fails with "cannot rollback - no transaction is active", and that error is
 * thrown instead of the one that matters. Here a rollback with nothing to roll back is a success, so
 * the caller sees the real error.
 */
class RollbackSafeSqliteDialect extends SqliteDialect {
  override createDriver(): Driver {
    const driver = super.createDriver();
    const rollback = driver.rollbackTransaction.bind(driver);
    driver.rollbackTransaction = async (connection) => {
      try {
        await rollback(connection);
      } catch (error) {
        if (!/no transaction is active/i.test((error as Error).message)) throw error;
      }
    };
    return driver;
  }
}

/** The only place a raw better-sqlite3 handle exists: pragmas and the integrity check. */
export function openSqlite(file: string, options: { readonly?: boolean } = {}): OpenDatabase {
  let handle: BetterSqlite3.Database;
  try {
    try {
      handle = openHandle(file, options.readonly ?? false, false);
    } catch (error) {
      if (!diskIsFull(file)) throw error;
      // A completely full disk: WAL mode's shared-memory index (the -shm file, 32 KB) cannot be made, so
      // no connection can even read. In exclusive locking mode SQLite keeps that index in memory and
      // never asks for the file: the command can still read (and says so when a write is refused).
      // Exclusive means one process at a time, which a full disk allows anyway.
      handle = openHandle(file, options.readonly ?? false, true);
    }
  } catch (error) {
    throw new ArchivistError('database', `cannot open the database ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const db = new Kysely<Database>({
    dialect: new RollbackSafeSqliteDialect({ database: withStatementCache(handle) }),
  });
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

function openHandle(file: string, readonly: boolean, exclusive: boolean): BetterSqlite3.Database {
  const handle = new BetterSqlite3(file, { readonly, fileMustExist: true });
  try {
    // Before the first read: once the database has been read, the locking mode of WAL cannot change.
    if (exclusive) handle.pragma('locking_mode = EXCLUSIVE');
    // WAL: readers (the API, `run watch`) never block the writer, and a crash leaves a consistent file.
    if (!readonly) handle.pragma('journal_mode = WAL');
    handle.pragma('synchronous = NORMAL');
    handle.pragma('foreign_keys = ON');
    handle.pragma('busy_timeout = 10000');
    return handle;
  } catch (error) {
    handle.close();
    throw error;
  }
}

/** Less than this free next to the database: SQLite's open failed for want of space. */
const FULL_BYTES = 64 * 1024;

function diskIsFull(file: string): boolean {
  try {
    const stats = fs.statfsSync(path.dirname(file));
    return stats.bavail * stats.bsize < FULL_BYTES;
  } catch {
    return false;
  }
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
