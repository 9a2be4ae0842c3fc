import fs from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../errors.js';
import { appliedMigrations, openDatabase, type OpenDatabase, type ServerFacts } from '../store/database.js';
import { readMeta } from '../store/meta-repository.js';
import { MIGRATIONS } from '../store/migrations/index.js';
import { APPLICATION_ID, openSqlite, readSqliteHeader } from '../store/sqlite/sqlite-database.js';
import { parseConfig, type Config } from './config.js';
import { HOME_MARKER, postgresUrlOf } from './home.js';
import { homeLayout } from './home-path.js';

/** SQLite's words for "this file is not a database" and "this database has no meta table". */
const NOT_OURS = /no such table|not a database/i;

export type HomeState = 'ok' | 'missing' | 'empty' | 'not-a-directory' | 'foreign' | 'unreadable';

export interface DatabaseHealth {
  /** The SQLite file, or the PostgreSQL URL without its password. */
  path: string;
  kind: 'sqlite' | 'postgres';
  /** The server's version, round-trip latency and connection pool (PostgreSQL); SQLite's version. */
  server: ServerFacts | null;
  archiveId: string | null;
  ok: boolean;
  /** `ok`, or what SQLite's integrity check (or opening the file) reported. */
  integrity: string;
  migrations: { applied: string[]; pending: string[]; unknown: string[] };
}

export interface ConfigHealth {
  path: string;
  ok: boolean;
  problem?: string;
}

export interface HomeInspection {
  /** Canonical when it exists. */
  path: string;
  state: HomeState;
  message: string;
  hint?: string;
  createdAt: string | null;
  database: DatabaseHealth | null;
  config: ConfigHealth | null;
  /** The configured tool paths, or none when the config cannot be read. */
  tools: Config['tools'];
}

/**
 * Looks at a home without changing anything in it: unlike `openHome` it applies no migration, creates no
 * directory and opens the database read-only, so `doctor` can be pointed at any directory, even a wrong one,
 * and leave it exactly as it was.
 */
export async function inspectHome(requested: string): Promise<HomeInspection> {
  const base = { createdAt: null, database: null, config: null, tools: {} };
  let root: string;
  try {
    root = fs.realpathSync.native(requested);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') {
      return {
        ...base,
        path: requested,
        state: 'missing',
        message: `there is no Archivist home at ${requested} yet`,
        hint: 'Run `archivist init` to create it (or pass --home DIR / set $ARCHIVIST_HOME).',
      };
    }
    return {
      ...base,
      path: requested,
      state: 'unreadable',
      message: `cannot read ${requested}: ${msg(error)}`,
    };
  }
  const layout = homeLayout(root);
  try {
    if (!fs.statSync(root).isDirectory()) {
      return {
        ...base,
        path: root,
        state: 'not-a-directory',
        message: `${root} is a file, not an Archivist home`,
        hint: 'Pass --home with a directory.',
      };
    }
    const url = postgresUrlOf(layout);
    if (url) return await inspectPostgresHome(root, layout.config, url);
    if (!fs.existsSync(layout.database)) {
      if (fs.readdirSync(root).length === 0) {
        return {
          ...base,
          path: root,
          state: 'empty',
          message: `${root} is empty: it is not an Archivist home yet`,
          hint: `Run \`archivist init --home ${root}\` to create one there.`,
        };
      }
      return foreign(root, base);
    }
  } catch (error) {
    return { ...base, path: root, state: 'unreadable', message: `cannot read ${root}: ${msg(error)}` };
  }

  // Same recognition rule as home.ts's isArchivistDatabase: the header first, so that SQLite never opens
  // (and never creates `-wal`/`-shm` beside) a foreign WAL database.
  const header = readSqliteHeader(layout.database);
  if (!header) return foreign(root, base);
  if (header.applicationId !== 0 && header.applicationId !== APPLICATION_ID) return foreign(root, base);
  if (header.applicationId === 0 && header.walMode) {
    const legacyLayout = [layout.config, layout.artifacts, layout.tmp, layout.logs, layout.baselines].every(
      (entry) => fs.existsSync(entry),
    );
    if (!legacyLayout) return foreign(root, base);
  }

  const config = inspectConfig(layout.config);
  let database: OpenDatabase;
  try {
    database = openSqlite(layout.database, { readonly: true });
  } catch (error) {
    if (NOT_OURS.test(msg(error))) return foreign(root, base);
    return unreadableDatabase(root, layout.database, error, config);
  }
  try {
    if ((await readMeta(database.db, 'marker')) !== HOME_MARKER) return foreign(root, base);
    return {
      path: root,
      state: 'ok',
      message: `${root} is an Archivist home`,
      createdAt: (await readMeta(database.db, 'created_at')) ?? null,
      database: await databaseHealth(database),
      config: config.health,
      tools: config.tools,
    };
  } catch (error) {
    // No meta table, or not a database at all: a SQLite file of someone else's, or some other file.
    if (NOT_OURS.test(msg(error))) return foreign(root, base);
    return unreadableDatabase(root, layout.database, error, config);
  } finally {
    await database.close();
  }
}

/** A home whose truth store is PostgreSQL: nothing is migrated, the server only answers questions. */
async function inspectPostgresHome(root: string, configFile: string, url: string): Promise<HomeInspection> {
  const config = inspectConfig(configFile);
  let database: OpenDatabase;
  try {
    database = await openDatabase({ kind: 'postgres', url });
  } catch (error) {
    return {
      path: root,
      state: 'unreadable',
      message: `the database of ${root} cannot be reached`,
      hint: 'Check database.url in config.json and that the PostgreSQL server runs.',
      createdAt: null,
      database: {
        path: url.replace(/:[^:@/]*@/, ':***@'),
        kind: 'postgres',
        server: null,
        archiveId: null,
        ok: false,
        integrity: msg(error),
        migrations: { applied: [], pending: [], unknown: [] },
      },
      config: config.health,
      tools: config.tools,
    };
  }
  try {
    if ((await readMeta(database.db, 'marker').catch(() => undefined)) !== HOME_MARKER) {
      return {
        ...foreign(root, { createdAt: null, database: null, config: config.health, tools: config.tools }),
        message: `the database ${database.location} of ${root} is not an Archivist database`,
      };
    }
    return {
      path: root,
      state: 'ok',
      message: `${root} is an Archivist home`,
      createdAt: (await readMeta(database.db, 'created_at')) ?? null,
      database: await databaseHealth(database),
      config: config.health,
      tools: config.tools,
    };
  } finally {
    await database.close();
  }
}

function foreign(root: string, base: Pick<HomeInspection, 'createdAt' | 'database' | 'config' | 'tools'>) {
  return {
    ...base,
    path: root,
    state: 'foreign' as const,
    message: `${root} is not an Archivist home (it holds other files)`,
    hint: 'Pass --home with the directory you gave to `archivist init`, or an empty directory to `init`.',
  };
}

function unreadableDatabase(
  root: string,
  file: string,
  error: unknown,
  config: ReturnType<typeof inspectConfig>,
): HomeInspection {
  return {
    path: root,
    state: 'unreadable',
    message: `the database of ${root} cannot be read`,
    hint: 'Restore archivist.db from a backup; the artifact store next to it is not affected.',
    createdAt: null,
    database: {
      path: file,
      kind: 'sqlite',
      server: null,
      archiveId: null,
      ok: false,
      integrity: msg(error),
      migrations: { applied: [], pending: [], unknown: [] },
    },
    config: config.health,
    tools: config.tools,
  };
}

async function databaseHealth(database: OpenDatabase): Promise<DatabaseHealth> {
  let integrity: string;
  try {
    integrity = await database.integrityCheck();
  } catch (error) {
    // Badly damaged pages make the check itself throw (SQLITE_CORRUPT) instead of listing problems.
    integrity = msg(error);
  }
  const applied = await appliedMigrations(database.db);
  return {
    path: database.location,
    kind: database.kind,
    server: await database.serverFacts().catch(() => null),
    archiveId: (await readMeta(database.db, 'archive_id').catch(() => undefined)) ?? null,
    ok: integrity === 'ok',
    integrity,
    migrations: {
      applied,
      pending: Object.keys(MIGRATIONS).filter((name) => !applied.includes(name)),
      unknown: applied.filter((name) => !(name in MIGRATIONS)),
    },
  };
}

function inspectConfig(file: string): { health: ConfigHealth; tools: Config['tools'] } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    // Like openHome: a missing config means the defaults.
    if (errnoCode(error) === 'ENOENT') return { health: { path: file, ok: true }, tools: {} };
    return { health: { path: file, ok: false, problem: msg(error) }, tools: {} };
  }
  try {
    return { health: { path: file, ok: true }, tools: parseConfig(text, path.basename(file)).tools };
  } catch (error) {
    return { health: { path: file, ok: false, problem: msg(error) }, tools: {} };
  }
}

function msg(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
