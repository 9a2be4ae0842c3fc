import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkStoreIdentity } from '../artifacts/store-identity.js';
import { ArchivistError, errnoCode } from '../errors.js';
import { parseConfig, type Config } from '../home/config.js';
import { HOME_MARKER, type Home } from '../home/home.js';
import { homeLayout } from '../home/home-path.js';
import { appliedMigrations, databaseTarget, openDatabase, type OpenDatabase } from '../store/database.js';
import { readMeta } from '../store/meta-repository.js';
import { MIGRATIONS } from '../store/migrations/index.js';

export interface WorkerHostOptions {
  /** The archive's database as this host reaches it: a PostgreSQL URL (or a SQLite file on this host). */
  database: string;
  /** The artifact store (the home's `artifacts/`) as this host mounts it. */
  store: string;
  /** Where this host keeps its own logs, tool versions and optional config.json (tool paths). */
  stateDir: string;
}

/** `~/.local/state/archivist-worker` (XDG): a worker host has no home, only this. */
export function defaultWorkerState(env: NodeJS.ProcessEnv = process.env): string {
  const base =
    env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME)
      ? env.XDG_STATE_HOME
      : path.join(os.homedir(), '.local', 'state');
  return path.join(base, 'archivist-worker');
}

/**
 * What a worker on a host with no Archivist home works with, in the shape of a home: the shared
 * database and store, this host's own logs and config. Refused before anything is claimed when the
 * database is not an Archivist archive at this schema, or the store belongs to another archive.
 * Temp files go under the store (`.tmp/<host>`): an artifact is renamed into place, which only works
 * within one filesystem, and each host's folder holds only its own processes' files.
 */
export async function openWorkerHost(options: WorkerHostOptions): Promise<Home> {
  const store = canonicalStore(options.store);
  const database = await openDatabase(databaseTarget(options.database));
  try {
    await checkSchema(database);
    if ((await readMeta(database.db, 'marker')) !== HOME_MARKER) {
      throw new ArchivistError(
        'home-foreign',
        `the database ${database.location} is not an Archivist archive`,
        {
          hint: 'Give the URL in the database.url of the home that runs the coordinator.',
        },
      );
    }
    const archiveId = (await readMeta(database.db, 'archive_id'))!;
    // A store of another archive (a wrong mount) is refused: what it holds is not what this database records.
    checkStoreIdentity(store, archiveId, { claim: false, database: database.location });
    const layout = {
      ...homeLayout(options.stateDir),
      artifacts: store,
      tmp: path.join(store, '.tmp', os.hostname()),
    };
    for (const dir of [layout.tmp, layout.logs]) fs.mkdirSync(dir, { recursive: true });
    return {
      layout,
      config: readHostConfig(layout.config),
      db: database.db,
      database,
      archiveId,
      close: () => database.close(),
    };
  } catch (error) {
    await database.close();
    throw error;
  }
}

function canonicalStore(store: string): string {
  try {
    const real = fs.realpathSync.native(store);
    if (fs.statSync(real).isDirectory()) return real;
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT' && errnoCode(error) !== 'ENOTDIR') throw error;
  }
  throw new ArchivistError('usage', `--store ${store} is not a folder on this host`, {
    field: 'store',
    hint: "Give the archive's artifact store (the home's artifacts/ folder) as this host mounts it.",
  });
}

/**
 * A worker never migrates: the coordinator's Archivist owns the schema. Another schema means another
 * Archivist version on one side, and working on it could write what the other does not understand.
 */
async function checkSchema(database: OpenDatabase): Promise<void> {
  const applied = await appliedMigrations(database.db);
  const known = Object.keys(MIGRATIONS);
  const unknown = applied.filter((name) => !known.includes(name));
  const missing = known.filter((name) => !applied.includes(name));
  if (applied.length === 0) {
    throw new ArchivistError(
      'home-foreign',
      `the database ${database.location} is not an Archivist archive`,
      {
        hint: 'Make the archive with `archivist init --database URL` on the coordinator host first.',
      },
    );
  }
  if (unknown.length > 0 || missing.length > 0) {
    throw new ArchivistError(
      'home-too-new',
      `the database ${database.location} is at another schema than this Archivist (${
        unknown.length > 0 ? `newer: ${unknown.join(', ')}` : `missing: ${missing.join(', ')}`
      })`,
      { hint: 'Run the same Archivist version on every host; the coordinator host upgrades the database.' },
    );
  }
}

function readHostConfig(file: string): Readonly<Config> {
  try {
    return parseConfig(fs.readFileSync(file, 'utf8'), file);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return parseConfig('{}', file);
    throw error;
  }
}
