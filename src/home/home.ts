import fs from 'node:fs';
import { ArchivistError, errnoCode } from '../errors.js';
import { createSqlite, migrate, openSqlite, type Db, type OpenDatabase } from '../store/database.js';
import { DEFAULT_CONFIG_TEXT, parseConfig, type Config } from './config.js';
import { homeLayout, type HomeLayout } from './home-path.js';

/** Written into `meta` at init; how an Archivist home is told apart from any other SQLite file. */
const HOME_MARKER = 'archivist-home';

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
 * Reads the marker through a read-only handle: a foreign SQLite file must not even be switched to WAL
 * mode by looking at it.
 */
function isArchivistDatabase(file: string): boolean {
  let database: OpenDatabase | undefined;
  try {
    database = openSqlite(file, { readonly: true });
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
  fs.mkdirSync(requested, { recursive: true });
  const root = fs.realpathSync(requested);
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
    root = fs.realpathSync(requested);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') {
      throw new ArchivistError('home-missing', `there is no Archivist home at ${requested}`, {
        hint: `Run \`archivist init\` to create it (or pass --home DIR / set $ARCHIVIST_HOME).`,
      });
    }
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

  if (!isArchivistDatabase(layout.database)) throw notAHome(root);
  const database = openSqlite(layout.database);
  try {
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
