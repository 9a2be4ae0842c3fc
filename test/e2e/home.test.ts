import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { archiveManifest } from '../helpers/archive-manifest.js';
import { runCli, runCliJson, tempDir, type CliOptions } from '../helpers/cli.js';
import { queryDatabase } from '../helpers/db-query.js';
import { makeJpeg, put } from '../helpers/media.js';
import { POSTGRES, dialectTitle, newPostgresDatabase } from '../helpers/postgres.js';

/**
 * The home of issue 2: `init`, the `--home` / $ARCHIVIST_HOME / default resolution, the config file
 * validated at start, and every command refusing a missing, empty or foreign home with exit 2 and a
 * message that says what to do, without touching what is there.
 */

interface InitJson {
  home: string;
  created: boolean;
  database: string;
  databaseKind: string;
  config: string;
}

interface SourceJson {
  name: string;
  path: string;
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!();
});

function scratch(): string {
  const { dir, cleanup } = tempDir('archivist-home-');
  cleanups.push(cleanup);
  return dir;
}

/** A small archive outside every home, for the commands that need a real folder to point at. */
async function smallArchive(root: string): Promise<string> {
  const archive = path.join(root, 'archive');
  put(archive, 'a.jpg', await makeJpeg(1));
  return archive;
}

function createForeignSqlite(file: string, wal: boolean): void {
  const db = new Database(file);
  if (wal) db.pragma('journal_mode = WAL');
  db.exec(
    "create table meta (key text primary key, value text); insert into meta values ('owner', 'someone else')",
  );
  db.exec("create table notes (body text); insert into notes values ('keep me')");
  db.close();
}

describe('archivist init', () => {
  it('creates a home (database, config, store folders) and is idempotent', async () => {
    const root = scratch();
    const home = path.join(root, 'new', 'home'); // parents do not exist yet
    const first = await runCliJson<InitJson>(['init'], { home });
    expect(first).toMatchObject({ home, created: true });
    expect(first.database).toBe(path.join(home, 'archivist.db'));
    expect(first.config).toBe(path.join(home, 'config.json'));
    for (const dir of ['artifacts', 'tmp', 'logs']) {
      expect(fs.statSync(path.join(home, dir)).isDirectory(), dir).toBe(true);
    }
    expect(JSON.parse(fs.readFileSync(first.config, 'utf8'))).toMatchObject({
      catalog: { hashConcurrency: 4 },
    });

    // The database is a real SQLite file in WAL mode, marked as an Archivist home.
    const db = new Database(first.database, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.prepare("select value from meta where key = 'marker'").get()).toEqual({
        value: 'archivist-home',
      });
    } finally {
      db.close();
    }

    // Running it again changes nothing: the config a user edited and the sources stay.
    const archive = await smallArchive(root);
    await runCliJson(['source', 'add', 'photos', archive], { home });
    const editedConfig = '{ "catalog": { "hashConcurrency": 2 } }\n';
    fs.writeFileSync(first.config, editedConfig);
    const second = await runCliJson<InitJson>(['init'], { home });
    expect(second).toMatchObject({ home, created: false });
    expect(fs.readFileSync(first.config, 'utf8')).toBe(editedConfig);
    const sources = await runCliJson<SourceJson[]>(['source', 'list'], { home });
    expect(sources.map((s) => s.name)).toEqual(['photos']);

    const human = await runCli(['init'], { home });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/already an Archivist home/);
  });

  it('accepts an existing empty directory', async () => {
    const home = path.join(scratch(), 'empty');
    fs.mkdirSync(home);
    expect((await runCliJson<InitJson>(['init'], { home })).created).toBe(true);
  });
});

describe.skipIf(POSTGRES.skipReason !== '')(`archivist init --database ${dialectTitle(POSTGRES)}`, () => {
  it('creates a home whose truth store is the server, from the flag or $ARCHIVIST_DATABASE_URL, and is idempotent', async () => {
    const root = scratch();
    const url = await newPostgresDatabase();
    const home = path.join(root, 'home');
    const first = await runCliJson<InitJson>(['init', '--database', url], { home });
    expect(first).toMatchObject({ home, created: true, databaseKind: 'postgres' });
    // No SQLite file beside the config: the server holds the catalog, and the config names it.
    expect(fs.existsSync(path.join(home, 'archivist.db'))).toBe(false);
    expect(JSON.parse(fs.readFileSync(first.config, 'utf8'))).toMatchObject({ database: { url } });
    const marker = queryDatabase<{ value: string }>(
      { kind: 'postgres', url },
      "select value from meta where key = 'marker'",
    );
    expect(marker).toEqual([{ value: 'archivist-home' }]);

    // Again, with the URL only in the environment: nothing is made twice, the sources stay.
    const archive = await smallArchive(root);
    await runCliJson(['source', 'add', 'photos', archive], { home });
    const second = await runCliJson<InitJson>(['init'], { home, env: { ARCHIVIST_DATABASE_URL: url } });
    expect(second).toMatchObject({ home, created: false, databaseKind: 'postgres' });
    const sources = await runCliJson<SourceJson[]>(['source', 'list'], { home });
    expect(sources.map((s) => s.name)).toEqual(['photos']);

    // A URL that is not PostgreSQL's is refused before anything is made.
    const other = path.join(root, 'other');
    const refused = await runCli(['init', '--database', 'mysql://localhost/photos'], { home: other });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/not a postgres:\/\/ URL/);
    expect(fs.existsSync(other)).toBe(false);
  });
});

/**
 * Homes that are not homes: each makes one under `root` and returns its path. Nothing under `root` may be
 * changed by any command looking at it.
 */
const NOT_A_HOME: Record<string, (root: string) => Promise<string> | string> = {
  missing: (root) => path.join(root, 'home'),
  empty: (root) => {
    fs.mkdirSync(path.join(root, 'home'));
    return path.join(root, 'home');
  },
  'a foreign non-empty directory': async (root) => {
    put(root, 'home/notes.txt', 'my notes');
    put(root, 'home/photos/a.jpg', await makeJpeg(7));
    return path.join(root, 'home');
  },
  'a directory with a foreign archivist.db (rollback journal)': (root) => {
    fs.mkdirSync(path.join(root, 'home'));
    createForeignSqlite(path.join(root, 'home', 'archivist.db'), false);
    return path.join(root, 'home');
  },
  'a directory with a foreign archivist.db (WAL mode)': (root) => {
    fs.mkdirSync(path.join(root, 'home'));
    createForeignSqlite(path.join(root, 'home', 'archivist.db'), true);
    return path.join(root, 'home');
  },
  'a directory with an archivist.db that is not SQLite': (root) => {
    put(root, 'home/archivist.db', 'just some text, not a database\n'.repeat(10));
    return path.join(root, 'home');
  },
  'a regular file': (root) => put(root, 'home', 'not a folder'),
  'a path below a regular file': (root) => path.join(put(root, 'home', 'not a folder'), 'below'),
};

describe('every command against something that is not a home', () => {
  for (const [label, make] of Object.entries(NOT_A_HOME)) {
    it(`exits 2 with what to do, and changes nothing: ${label}`, async () => {
      const root = scratch();
      const archive = await smallArchive(root);
      const home = await make(root);
      const before = archiveManifest(root);

      const commands = [
        ['source', 'list'],
        ['source', 'add', 'photos', archive],
        ['catalog'],
        ['catalog', 'photos'],
        ['assets'],
        ['asset', 'abcd1234'],
      ];
      const results = await Promise.all(commands.map((args) => runCli(args, { home })));
      results.forEach((result, i) => {
        const args = commands[i]!.join(' ');
        expect(result.code, `${args}: ${result.stderr}`).toBe(2);
        // The message names the home and says what to do about it; never a stack trace.
        expect(result.stderr, args).toContain(home);
        expect(result.stderr, args).toMatch(/archivist init|--home/);
        expect(result.stderr, args).not.toMatch(/\n\s+at /);
      });
      expect(archiveManifest(root)).toEqual(before);

      const json = await runCli(['source', 'list', '--json'], { home });
      expect(json.code).toBe(2);
      const parsed = JSON.parse(json.stdout) as { error: { code: string; message: string } };
      expect(parsed.error.code).toBe(
        label === 'missing' || label === 'empty' ? 'home-missing' : 'home-foreign',
      );
      expect(archiveManifest(root)).toEqual(before);

      if (label !== 'missing' && label !== 'empty') {
        // `init` refuses to take over something that is not a new or empty folder.
        const init = await runCli(['init'], { home });
        expect(init.code, init.stderr).toBe(2);
        expect(init.stderr).toContain(home);
        expect(init.stderr).toMatch(/not an Archivist home|not empty/);
        expect(init.stderr).not.toMatch(/\n\s+at /);
        expect(archiveManifest(root)).toEqual(before);
      }
    });
  }

  it('a foreign SQLite archivist.db keeps its data and gets no -wal/-shm files beside it', async () => {
    const home = path.join(scratch(), 'home');
    fs.mkdirSync(home);
    const file = path.join(home, 'archivist.db');
    createForeignSqlite(file, true);
    const bytes = fs.readFileSync(file);
    for (const args of [['source', 'list'], ['catalog'], ['init']]) {
      expect((await runCli(args, { home })).code).toBe(2);
    }
    expect(fs.readdirSync(home)).toEqual(['archivist.db']);
    expect(fs.readFileSync(file).equals(bytes)).toBe(true);
  });
});

describe('config.json is validated at start', () => {
  const CASES: { label: string; text: string; names: RegExp[] }[] = [
    {
      label: 'not JSON',
      text: '{ "catalog": { "hashConcurrency": 4 ',
      names: [/config\.json/, /not valid JSON/],
    },
    {
      label: 'a wrong type',
      text: '{"catalog":{"hashConcurrency":"x"}}',
      names: [/config\.json/, /catalog\.hashConcurrency/],
    },
    {
      label: 'a value out of range',
      text: '{"catalog":{"hashConcurrency":0}}',
      names: [/catalog\.hashConcurrency/],
    },
    { label: 'an unknown top-level key', text: '{"catalgo":{}}', names: [/config\.json/, /catalgo/] },
    {
      label: 'an unknown nested key',
      text: '{"catalog":{"hashConcurrency":4},"tools":{"ffmpg":"/usr/bin/ffmpeg"}}',
      names: [/tools/, /ffmpg/],
    },
    { label: 'not an object', text: '[1, 2]', names: [/config\.json/] },
  ];

  it('refuses each invalid config with exit 2, naming the key, before doing anything', async () => {
    const root = scratch();
    const archive = await smallArchive(root);
    const home = path.join(root, 'home');
    await runCliJson(['init'], { home });
    const config = path.join(home, 'config.json');
    const valid = fs.readFileSync(config, 'utf8');

    for (const { label, text, names } of CASES) {
      fs.writeFileSync(config, text);
      const commands = [['source', 'list'], ['source', 'add', 'photos', archive], ['catalog'], ['init']];
      const results = await Promise.all(commands.map((args) => runCli(args, { home })));
      results.forEach((result, i) => {
        const what = `${label}: ${commands[i]!.join(' ')}`;
        expect(result.code, what).toBe(2);
        for (const name of names) expect(result.stderr, what).toMatch(name);
        expect(result.stderr, what).not.toMatch(/\n\s+at /);
      });
      expect(fs.readFileSync(config, 'utf8'), 'the config is never rewritten').toBe(text);
    }

    // Nothing was done while the config was invalid: the source was never added.
    fs.writeFileSync(config, valid);
    expect(await runCliJson<SourceJson[]>(['source', 'list'], { home })).toEqual([]);
  });

  it('applies a valid config (catalog.ignore skips the names it lists)', async () => {
    const root = scratch();
    const archive = await smallArchive(root);
    put(archive, 'Private/b.jpg', await makeJpeg(2));
    put(archive, 'c.jpg', await makeJpeg(3));
    const home = path.join(root, 'home');
    await runCliJson(['init'], { home });
    fs.writeFileSync(
      path.join(home, 'config.json'),
      JSON.stringify({ catalog: { hashConcurrency: 1, ignore: ['private'] } }),
    );
    await runCliJson(['source', 'add', 'photos', archive], { home });
    const [summary] = await runCliJson<{ new: number; skipped: { junk: number } }[]>(['catalog'], { home });
    expect(summary).toMatchObject({ new: 2, skipped: { junk: 1 } });
  });

  it('a home without config.json uses the defaults', async () => {
    const home = path.join(scratch(), 'home');
    await runCliJson(['init'], { home });
    fs.rmSync(path.join(home, 'config.json'));
    expect((await runCli(['source', 'list'], { home })).code).toBe(0);
  });
});

describe('where the home is: --home, else $ARCHIVIST_HOME, else the user data directory', () => {
  async function sourcesIn(options: CliOptions): Promise<string[]> {
    return (await runCliJson<SourceJson[]>(['source', 'list'], options)).map((s) => s.name);
  }

  it('uses $ARCHIVIST_HOME when there is no --home', async () => {
    const root = scratch();
    const archive = await smallArchive(root);
    const envHome = path.join(root, 'env-home');
    const env = { ARCHIVIST_HOME: envHome, HOME: path.join(root, 'user'), XDG_DATA_HOME: '' };
    const init = await runCliJson<InitJson>(['init'], { env });
    expect(init.home).toBe(envHome);
    await runCliJson(['source', 'add', 'photos', archive], { env });
    expect(await sourcesIn({ home: envHome })).toEqual(['photos']);
    expect(await sourcesIn({ env })).toEqual(['photos']);
    // ...and not the default location.
    expect(fs.existsSync(path.join(root, 'user', '.local', 'share', 'archivist'))).toBe(false);
  });

  it('--home wins over $ARCHIVIST_HOME', async () => {
    const root = scratch();
    const archive = await smallArchive(root);
    const envHome = path.join(root, 'env-home');
    const flagHome = path.join(root, 'flag-home');
    await runCliJson(['init'], { home: envHome });
    await runCliJson(['source', 'add', 'in-env-home', archive], { home: envHome });

    const env = { ARCHIVIST_HOME: envHome };
    const init = await runCliJson<InitJson>(['init'], { home: flagHome, env });
    expect(init).toMatchObject({ home: flagHome, created: true });
    expect(await sourcesIn({ home: flagHome, env })).toEqual([]);
    expect(await sourcesIn({ env })).toEqual(['in-env-home']);
  });

  it('defaults to $XDG_DATA_HOME/archivist, else ~/.local/share/archivist', async () => {
    const root = scratch();
    const user = path.join(root, 'user');
    const xdg = path.join(root, 'xdg-data');
    fs.mkdirSync(user);

    const withXdg = await runCliJson<InitJson>(['init'], { env: { HOME: user, XDG_DATA_HOME: xdg } });
    expect(withXdg.home).toBe(path.join(xdg, 'archivist'));
    expect(fs.existsSync(path.join(xdg, 'archivist', 'archivist.db'))).toBe(true);

    // An empty $XDG_DATA_HOME counts as unset (XDG spec), not as the working directory.
    const cwd = path.join(root, 'cwd');
    fs.mkdirSync(cwd);
    const withoutXdg = await runCliJson<InitJson>(['init'], { cwd, env: { HOME: user, XDG_DATA_HOME: '' } });
    expect(withoutXdg.home).toBe(path.join(user, '.local', 'share', 'archivist'));
    expect(fs.readdirSync(cwd)).toEqual([]);

    // $ARCHIVIST_HOME wins over the default.
    const envHome = path.join(root, 'env-home');
    const viaEnv = await runCliJson<InitJson>(['init'], {
      env: { HOME: user, XDG_DATA_HOME: path.join(root, 'other-xdg'), ARCHIVIST_HOME: envHome },
    });
    expect(viaEnv.home).toBe(envHome);
    expect(fs.existsSync(path.join(root, 'other-xdg'))).toBe(false);
  });

  it('resolves a relative --home against the working directory', async () => {
    const root = scratch();
    const init = await runCliJson<InitJson>(['init', '--home', 'rel-home'], { cwd: root });
    expect(init.home).toBe(path.join(root, 'rel-home'));
  });

  it('canonicalizes the home as the OS resolves it: a symlink, then `..`', async () => {
    const root = scratch();
    fs.mkdirSync(path.join(root, 'real', 'inner'), { recursive: true });
    fs.symlinkSync(path.join(root, 'real', 'inner'), path.join(root, 'link'));
    // The kernel resolves link/.. to real/, not to root/ as a lexical normalization would.
    const spelled = `${path.join(root, 'link')}/../home`;
    const init = await runCliJson<InitJson>(['init'], { home: spelled });
    expect(init.home).toBe(path.join(root, 'real', 'home'));
    expect(fs.existsSync(path.join(root, 'home'))).toBe(false);
    expect(await sourcesIn({ home: spelled })).toEqual([]);
  });
});
