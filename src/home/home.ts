import fs from 'node:fs';
import { checkStoreIdentity } from '../artifacts/store-identity.js';
import { ArchivistError, errnoCode } from '../errors.js';
import { migrate, openDatabase, type Db, type OpenDatabase } from '../store/database.js';
import { readMeta, writeMetaOnce } from '../store/meta-repository.js';
import { redactUrl } from '../store/postgres/postgres-url.js';
import {
  APPLICATION_ID,
  createSqlite,
  openSqlite,
  readSqliteHeader,
} from '../store/sqlite/sqlite-database.js';
import { DEFAULT_CONFIG_TEXT, parseConfig, type Config } from './config.js';
import { homeLayout, type HomeLayout } from './home-path.js';

/** Written into `meta` at init; how an Archivist home is told apart from any other SQLite file. */
export const HOME_MARKER = 'archivist-home';

export interface Home {
  layout: HomeLayout;
  config: Readonly<Config>;
  db: Db;
  database: OpenDatabase;
  /** The archive this home's database is the truth of (its artifact store carries the same id). */
  archiveId: string;
  close(): Promise<void>;
}

/** The PostgreSQL URL a home's config names, if it is a PostgreSQL home (undefined: archivist.db). */
export function postgresUrlOf(layout: HomeLayout): string | undefined {
  if (fs.existsSync(layout.database)) return undefined;
  try {
    return parseConfig(fs.readFileSync(layout.config, 'utf8'), layout.config).database.url;
  } catch {
    return undefined; // no config, or not ours: not a PostgreSQL home
  }
}

function isEmptyDir(dir: string): boolean {
  return fs.readdirSync(dir).length === 0;
}

/**
 * Tells an Archivist database from any other file without modifying it: first by the application id in
 * the SQLite header (plain read-only I/O); only a database that is not in WAL mode, or that sits in a
 * complete home layout (homes made before the application id), is opened read-only to check the marker.
 * A read-only SQLite open of a foreign WAL database would create `-wal` and `-shm` files beside it.
 */
async function isArchivistDatabase(layout: HomeLayout): Promise<boolean> {
  const header = readSqliteHeader(layout.database);
  if (!header) return false;
  if (header.applicationId === APPLICATION_ID) return true;
  if (header.applicationId !== 0) return false;
  const legacyLayout = [layout.config, layout.artifacts, layout.tmp, layout.logs, layout.baselines].every(
    (entry) => fs.existsSync(entry),
  );
  if (header.walMode && !legacyLayout) return false;
  let database: OpenDatabase | undefined;
  try {
    database = openSqlite(layout.database, { readonly: true });
    return (await readMeta(database.db, 'marker')) === HOME_MARKER;
  } catch {
    return false; // not SQLite, or no meta table: not ours
  } finally {
    await database?.close();
  }
}

function notAHome(root: string): ArchivistError {
  return new ArchivistError('home-foreign', `${root} is not an Archivist home`, {
    hint: 'Pass --home with the directory you gave to `archivist init`, or an empty directory to `init`.',
  });
}

export interface InitOptions {
  /** A PostgreSQL URL (`--database`, else $ARCHIVIST_DATABASE_URL): the home's truth store; none: SQLite. */
  databaseUrl?: string;
}

/** Creates a home, or reports that it already is one. Refuses a directory that holds anything else. */
export async function initHome(
  requested: string,
  options: InitOptions = {},
): Promise<{ home: Home; created: boolean }> {
  try {
    fs.mkdirSync(requested, { recursive: true });
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'EEXIST' || code === 'ENOTDIR') throw notAHome(requested);
    throw new ArchivistError('io', `cannot create the home ${requested}: ${(error as Error).message}`, {
      cause: error,
      hint: 'Choose a folder you can write to (--home DIR or $ARCHIVIST_HOME).',
    });
  }
  const root = fs.realpathSync.native(requested);
  const layout = homeLayout(root);
  const existingUrl = postgresUrlOf(layout);
  const exists = fs.existsSync(layout.database) || existingUrl !== undefined;
  if (!exists && !isEmptyDir(root)) {
    throw new ArchivistError('home-foreign', `${root} is not empty and is not an Archivist home`, {
      hint: 'Choose a new or empty directory for the home (--home DIR or $ARCHIVIST_HOME).',
    });
  }
  if (exists && options.databaseUrl !== undefined && options.databaseUrl !== existingUrl) {
    throw new ArchivistError('usage', `${root} is already an Archivist home with another database`, {
      hint: 'Give another --home for the new database, or leave out --database.',
    });
  }
  if (!exists) {
    try {
      await createHome(layout, options.databaseUrl);
    } catch (error) {
      // Nothing of a half-made home stays: the folder was empty.
      for (const entry of fs.readdirSync(root))
        fs.rmSync(`${root}/${entry}`, { recursive: true, force: true });
      throw error;
    }
  }
  return { home: await openHome(root), created: !exists };
}

async function createHome(layout: HomeLayout, databaseUrl: string | undefined): Promise<void> {
  for (const dir of [layout.artifacts, layout.tmp, layout.logs, layout.baselines]) {
    fs.mkdirSync(dir, { recursive: true });
  }
  const config = JSON.parse(DEFAULT_CONFIG_TEXT) as Record<string, unknown>;
  if (databaseUrl) config.database = { url: databaseUrl };
  fs.writeFileSync(layout.config, `${JSON.stringify(config, null, 2)}\n`, { flag: 'wx' });
  if (!databaseUrl) createSqlite(layout.database);
  const database = await openDatabase(
    databaseUrl ? { kind: 'postgres', url: databaseUrl } : { kind: 'sqlite', file: layout.database },
  );
  try {
    await migrate(database, layout.root, { artifactsDir: layout.artifacts });
    // A database holds one archive: a second home on it would be a second truth about the same rows.
    if ((await readMeta(database.db, 'marker')) !== undefined) {
      throw new ArchivistError(
        'archive-mismatch',
        `the database ${database.location} already holds an archive (${await readMeta(database.db, 'archive_id')})`,
        {
          hint: 'Use the home made with it, join it from this host with `archivist worker --database URL`, or give a new, empty database.',
        },
      );
    }
    await writeMetaOnce(database.db, { marker: HOME_MARKER, created_at: new Date().toISOString() });
  } finally {
    await database.close();
  }
}

/**
 * Opens an existing home: checks it is ours, applies pending migrations, validates the config, checks
 * that the artifact store belongs to the database's archive. Every way this can go wrong ends in an
 * error that says what to do, never in a stack trace.
 */
export async function openHome(requested: string): Promise<Home> {
  let root: string;
  try {
    root = fs.realpathSync.native(requested);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') {
      throw new ArchivistError('home-missing', `there is no Archivist home at ${requested}`, {
        hint: `Run \`archivist init\` to create it (or pass --home DIR / set $ARCHIVIST_HOME).`,
      });
    }
    if (errnoCode(error) === 'ENOTDIR') throw notAHome(requested); // a file stands where a folder should
    throw new ArchivistError('io', `cannot read the home ${requested}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const layout = homeLayout(root);
  if (!fs.statSync(root).isDirectory()) throw notAHome(root);
  const url = postgresUrlOf(layout);
  if (!url && !fs.existsSync(layout.database)) {
    if (isEmptyDir(root)) {
      throw new ArchivistError('home-missing', `${root} is empty: it is not an Archivist home yet`, {
        hint: `Run \`archivist init --home ${root}\` to create one there.`,
      });
    }
    throw notAHome(root);
  }
  if (!url && !(await isArchivistDatabase(layout))) throw notAHome(root);
  const config = url ? readConfig(layout.config) : undefined;
  const database = url
    ? await openDatabase({ kind: 'postgres', url }, { poolSize: config?.database.poolSize })
    : openSqlite(layout.database);
  try {
    await database.claimIdentity();
    await migrate(database, root, { artifactsDir: layout.artifacts });
    if (url && (await readMeta(database.db, 'marker')) !== HOME_MARKER) {
      throw new ArchivistError(
        'home-foreign',
        `the database ${redactUrl(url)} of ${root} is not an Archivist database`,
        {
          hint: 'Check database.url in config.json.',
        },
      );
    }
    const archiveId = (await readMeta(database.db, 'archive_id'))!;
    const loaded = config ?? readConfig(layout.config);
    for (const dir of [layout.artifacts, layout.tmp, layout.logs, layout.baselines]) {
      fs.mkdirSync(dir, { recursive: true });
    }
    // The store gets the archive's id the first time its home opens it (at init, or a home made before
    // id files existed); from then on a store of another archive is refused.
    checkStoreIdentity(layout.artifacts, archiveId, { claim: true, database: database.location });
    return { layout, config: loaded, db: database.db, database, archiveId, close: () => database.close() };
  } catch (error) {
    await database.close();
    throw error;
  }
}
function readConfig(file: string): Readonly<Config> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    // A missing config means defaults: the file is optional once the home exists.
    if (errnoCode(error) === 'ENOENT') return parseConfig('{}', file);
    throw error;
  }
  return parseConfig(text, file);
}
