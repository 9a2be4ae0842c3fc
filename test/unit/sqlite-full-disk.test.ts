import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { homeLayout } from '../../src/home/home-path.js';
import { isDiskFull } from '../../src/runs/disk-full.js';
import { openRunLog } from '../../src/runs/run-log.js';
import { createSqlite, openSqlite } from '../../src/store/sqlite/sqlite-database.js';
import { tempDir } from '../helpers/cli.js';

/**
 * SQLite and the run log on a really full disk (issue 14 item 8), on a small tmpfs this test mounts: a write refused for
 * want of space surfaces as itself (SQLITE_FULL, recognised as a full disk), not as Kysely's "cannot
 * rollback - no transaction is active" from the ROLLBACK after SQLite already ended the transaction; and a
 * database on a disk without one free block can still be opened and read.
 */

function mountable(): string | null {
  const { dir, cleanup } = tempDir('archivist-tmpfs-probe-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'pipe' });
    execFileSync('umount', [dir], { stdio: 'pipe' });
    return null;
  } catch (error) {
    return (error as Error).message.split('\n')[0]!;
  } finally {
    cleanup();
  }
}
const unavailable = mountable();
if (unavailable) console.warn(`sqlite full-disk tests skipped: cannot mount a tmpfs (${unavailable})`);

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!();
});

function smallDisk(bytes: number): string {
  const { dir, cleanup } = tempDir('archivist-sqlite-full-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir]);
  cleanups.push(() => {
    execFileSync('umount', ['-l', dir]);
    cleanup();
  });
  return dir;
}

function fillCompletely(file: string): void {
  const fd = fs.openSync(file, 'w');
  try {
    for (;;) fs.writeSync(fd, Buffer.alloc(4096));
  } catch (error) {
    expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
  } finally {
    fs.closeSync(fd);
  }
}

describe.skipIf(unavailable !== null)('SQLite on a full disk', () => {
  it('a refused write in a transaction is SQLITE_FULL, not "cannot rollback"', async () => {
    const disk = smallDisk(2 * 1024 * 1024);
    const file = path.join(disk, 'test.db');
    createSqlite(file);
    const database = openSqlite(file);
    try {
      await sql`create table t (x blob)`.execute(database.db);
      fillCompletely(path.join(disk, 'filler'));
      const failure = await database.db
        .transaction()
        .execute(async (trx) => {
          for (let i = 0; i < 200; i++) await sql`insert into t values (randomblob(65536))`.execute(trx);
        })
        .then(
          () => null,
          (error: unknown) => error,
        );
      expect(failure).toBeInstanceOf(Error);
      expect((failure as Error).message).not.toMatch(/cannot rollback/);
      expect(isDiskFull(failure)).toBe(true);
    } finally {
      await database.close();
    }
  });

  it('opens and reads a database on a disk with not one free block', async () => {
    const disk = smallDisk(1024 * 1024);
    const file = path.join(disk, 'test.db');
    createSqlite(file);
    const setup = openSqlite(file);
    await sql`create table t (x text)`.execute(setup.db);
    await sql`insert into t values ('kept')`.execute(setup.db);
    await setup.close();
    // Closed: SQLite removed its -wal and -shm files, which a reader must make again.
    fillCompletely(path.join(disk, 'filler'));
    const database = openSqlite(file);
    try {
      const { rows } = await sql<{ x: string }>`select x from t`.execute(database.db);
      expect(rows).toEqual([{ x: 'kept' }]);
    } finally {
      await database.close();
    }
  });

  it('a run-log line refused by a full disk is reported to the caller, not thrown', () => {
    const disk = smallDisk(1024 * 1024);
    const errors: Error[] = [];
    const log = openRunLog(homeLayout(path.join(disk, 'home')), 'r-full', 'unit', (error) =>
      errors.push(error),
    );
    log.info({ event: 'before' }, 'fits');
    fillCompletely(path.join(disk, 'filler'));
    // A long line needs blocks the disk no longer has.
    expect(() => log.warn({ event: 'after', padding: 'x'.repeat(64 * 1024) }, 'does not fit')).not.toThrow();
    expect(errors.length).toBeGreaterThan(0);
    expect(isDiskFull(errors[0])).toBe(true);
  });
});
