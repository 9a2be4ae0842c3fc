import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, inject } from 'vitest';
import { runCliJson } from './cli.js';
import type { TestDatabase } from './db-query.js';

/** The dialects a database test runs on: SQLite always, PostgreSQL when there is a server. */
export interface TestDialect {
  name: 'sqlite' | 'postgres';
  /** Why PostgreSQL tests are skipped (no server and no binaries), else ''. */
  skipReason: string;
  /** A new, empty database for a home (`init --database`); undefined on SQLite (the home's own file). */
  newDatabase(): Promise<string | undefined>;
}

const created: string[] = [];
let admin: pg.Client | undefined;

async function adminClient(): Promise<pg.Client> {
  if (!admin) {
    admin = new pg.Client({ connectionString: inject('postgresUrl') });
    await admin.connect();
  }
  return admin;
}

afterAll(async () => {
  if (!admin) return;
  for (const name of created.splice(0)) await admin.query(`drop database if exists "${name}" with (force)`);
  await admin.end();
  admin = undefined;
});

/** A database of its own for this test (dropped after the file), as a URL. */
export async function newPostgresDatabase(): Promise<string> {
  const client = await adminClient();
  const name = `archivist_test_${randomBytes(6).toString('hex')}`;
  await client.query(`create database "${name}"`);
  created.push(name);
  const url = new URL(inject('postgresUrl'));
  url.pathname = `/${name}`;
  return url.toString();
}

export const SQLITE: TestDialect = {
  name: 'sqlite',
  skipReason: '',
  newDatabase: () => Promise.resolve(undefined),
};

export const POSTGRES: TestDialect = {
  name: 'postgres',
  get skipReason() {
    return inject('postgresSkipReason');
  },
  newDatabase: newPostgresDatabase,
};

/** Both dialects, for `describe.each`: a skipped PostgreSQL says why in its title. */
export const DIALECTS: readonly TestDialect[] = [SQLITE, POSTGRES];

/** The title of a dialect's describe block: `on postgres (skipped: no PostgreSQL binaries ...)`. */
export function dialectTitle(dialect: TestDialect): string {
  return dialect.skipReason ? `on ${dialect.name} (skipped: ${dialect.skipReason})` : `on ${dialect.name}`;
}

/** `describe` once per dialect; PostgreSQL's is skipped (with the reason in its title) when there is no server. */
export function describeEachDialect(name: string, body: (dialect: TestDialect) => void): void {
  for (const dialect of DIALECTS) {
    describe.skipIf(dialect.skipReason !== '')(`${name} ${dialectTitle(dialect)}`, () => body(dialect));
  }
}

/**
 * A home's database on `dialect`: the `init` arguments that make it (a new PostgreSQL database, or none:
 * the home's own SQLite file) and where a test reads it.
 */
export async function homeDatabase(
  dialect: TestDialect,
  home: string,
): Promise<{ initArgs: string[]; database: TestDatabase }> {
  const url = await dialect.newDatabase();
  return url
    ? { initArgs: ['--database', url], database: { kind: 'postgres', url } }
    : { initArgs: [], database: { kind: 'sqlite', file: path.join(home, 'archivist.db') } };
}

/**
 * A home on `dialect` with `archive` as its source `archive`, cataloged, and a collection `all` of it: the
 * start of every end-to-end test that runs a pipeline over a small archive of its own.
 */
export async function catalogedHome(
  dialect: TestDialect,
  home: string,
  archive: string,
): Promise<TestDatabase> {
  const { initArgs, database } = await homeDatabase(dialect, home);
  await runCliJson(['init', ...initArgs], { home });
  await runCliJson(['source', 'add', 'archive', archive], { home });
  await runCliJson(['catalog', 'archive'], { home });
  await runCliJson(['collection', 'create', 'all', '--source', 'archive'], { home });
  return database;
}
