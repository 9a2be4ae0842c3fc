import fs from 'node:fs';
import { ArchivistError, errnoCode } from '../errors.js';
import {
  APPLICATION_ID,
  createSqlite,
  migrate,
  openSqlite,
  readSqliteHeader,
  type Db,
  type OpenDatabase,
} from '../store/database.js';
import { DEFAULT_CONFIG_TEXT, parseConfig, type Config } from './config.js';
import { homeLayout, type HomeLayout } from './home-path.js';

/** Written into `meta` at init; how an Archivist home is told apart from any other SQLite file. */
export const HOME_MARKER = 'archivist-home';

export interface Home {
  layout: HomeLayout;
  config: Readonly<Config>;
  db: Db;
  database: OpenDatabase;
  close(): Promise<void>;
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
function isArchivistDatabase(layout: HomeLayout): boolean {
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
    const row = database.sqlite.prepare("select value from meta where key = 'marker'").get() as
      { value: string } | undefined;
    return row?.value === HOME_MARKER;
  } catch {
    return false; // not SQLite, or no meta table: not ours
  } finally {
    database?.sqlite.close();
  }
}

function notAHome(root: string): ArchivistError {
  return new ArchivistError('home-foreign', `${root} is not an Archivist home`, {
    hint: 'Pass --home with the directory you gave to `archivist init`, or an empty directory to `init`.',
  });
}

/** Creates a home, or reports that it already is one. Refuses a directory that holds anything else. */
export async function initHome(requested: string): Promise<{ home: Home; created: boolean }> {
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
  const exists = fs.existsSync(layout.database);
  if (!exists && !isEmptyDir(root)) {
    throw new ArchivistError('home-foreign', `${root} is not empty and is not an Archivist home`, {
      hint: 'Choose a new or empty directory for the home (--home DIR or $ARCHIVIST_HOME).',
    });
  }
  if (!exists) {
    for (const dir of [layout.artifacts, layout.tmp, layout.logs, layout.baselines]) {
      fs.mkdirSync(dir, { recursive: true });
    }
    fs.writeFileSync(layout.config, DEFAULT_CONFIG_TEXT, { flag: 'wx' });
    createSqlite(layout.database);
    const database = openSqlite(layout.database);
    try {
      await migrate(database, root);
      await database.db
        .insertInto('meta')
        .values([
          { key: 'marker', value: HOME_MARKER },
          { key: 'created_at', value: new Date().toISOString() },
        ])
        .execute();
    } finally {
      await database.close();
    }
  }
  return { home: await openHome(root), created: !exists };
}

/**
 * Opens an existing home: checks it is ours, applies pending migrations, validates the config. Every
 * way this can go wrong ends in an error that says what to do, never in a stack trace.
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
  if (!fs.existsSync(layout.database)) {
    if (isEmptyDir(root)) {
      throw new ArchivistError('home-missing', `${root} is empty: it is not an Archivist home yet`, {
        hint: `Run \`archivist init --home ${root}\` to create one there.`,
      });
    }
    throw notAHome(root);
  }

  if (!isArchivistDatabase(layout)) throw notAHome(root);
  const database = openSqlite(layout.database);
  try {
    // A home made before the application id existed gets it now, so it is recognised without SQLite.
    if (database.sqlite.pragma('application_id', { simple: true }) !== APPLICATION_ID) {
      database.sqlite.pragma(`application_id = ${APPLICATION_ID}`);
    }
    await migrate(database, root);
    const config = readConfig(layout.config);
    for (const dir of [layout.artifacts, layout.tmp, layout.logs, layout.baselines]) {
      fs.mkdirSync(dir, { recursive: true });
    }
    return { layout, config, db: database.db, database, close: () => database.close() };
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
