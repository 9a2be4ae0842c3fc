import BetterSqlite3 from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, runCliJson, tempDir } from '../helpers/cli.js';
import { writeDatabase } from '../helpers/db-query.js';
import { describeEachDialect, type TestDialect } from '../helpers/postgres.js';

interface Tool {
  name: string;
  version: string | null;
  path: string | null;
  source: string | null;
  ok: boolean;
  problem?: string;
  hint?: string;
  libvips?: string | null;
  perl?: string | null;
}

interface Doctor {
  ok: boolean;
  errors: number;
  warnings: number;
  checks: { name: string; status: 'ok' | 'warning' | 'error'; message: string; hint?: string }[];
  tools: Tool[];
  home: { path: string; state: string; message: string; createdAt: string | null };
  database: {
    ok: boolean;
    integrity: string;
    migrations: { applied: string[]; pending: string[]; unknown: string[] };
  } | null;
  config: { ok: boolean } | null;
  disk: { path: string; freeBytes: number; totalBytes: number } | null;
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!();
});

function temp(): string {
  const { dir, cleanup } = tempDir('archivist-doctor-');
  cleanups.push(cleanup);
  return dir;
}

async function newHome(): Promise<string> {
  const home = path.join(temp(), 'home');
  await runCliJson(['init'], { home });
  return home;
}

/** A home on the dialect's database, with the URL a PostgreSQL one was made with. */
async function newHomeOn(dialect: TestDialect): Promise<{ home: string; url: string | undefined }> {
  const home = path.join(temp(), 'home');
  const url = await dialect.newDatabase();
  await runCliJson(['init', ...(url ? ['--database', url] : [])], { home });
  return { home, url };
}

/**
 * Breaks what the dialect's integrity check looks at. SQLite: an index page overwritten (of a table
 * doctor does not query, so the home is still recognised and only the check fails). PostgreSQL, whose
 * pages have their own checksums: what only Archivist can check, an artifact without its lineage, put in
 * with the constraint that forbids it switched off (superuser, test cluster).
 */
function breakIntegrity(home: string, url: string | undefined): void {
  if (url) {
    const database = { kind: 'postgres' as const, url };
    writeDatabase(database, 'alter table artifacts disable trigger all');
    writeDatabase(
      database,
      `insert into artifacts (id, kind, step, asset_id, run_id, sha256, size, mime, path, cache_key, policy, created_at)
       values ('a-orphan', 'thumbnail', 'thumbnail', ?, 'r-none', ?, 1, 'image/webp', 'bb/x.webp', 'k', 'sandbox', now())`,
      ['a'.repeat(64), 'b'.repeat(64)],
    );
    writeDatabase(database, 'alter table artifacts enable trigger all');
    return;
  }
  const file = path.join(home, 'archivist.db');
  const sqlite = new BetterSqlite3(file);
  sqlite.pragma('wal_checkpoint(TRUNCATE)');
  const pageSize = sqlite.pragma('page_size', { simple: true }) as number;
  const index = sqlite
    .prepare(
      "select rootpage from sqlite_master where type = 'index' and rootpage > 0 " +
        "and tbl_name not in ('meta', 'kysely_migration') order by rootpage limit 1",
    )
    .get() as { rootpage: number };
  sqlite.close();
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, Buffer.alloc(pageSize, 0xff), 0, pageSize, (index.rootpage - 1) * pageSize);
  fs.closeSync(fd);
}

async function doctorJson(
  home: string,
  env?: NodeJS.ProcessEnv,
): Promise<{ code: number | null; doc: Doctor }> {
  const result = await runCli(['doctor', '--json'], { home, env });
  return { code: result.code, doc: JSON.parse(result.stdout) as Doctor };
}

function tool(doc: Doctor, name: string): Tool {
  const found = doc.tools.find((t) => t.name === name);
  if (!found) throw new Error(`doctor did not report ${name}`);
  return found;
}

function check(doc: Doctor, name: string) {
  const found = doc.checks.find((c) => c.name === name);
  if (!found) throw new Error(`doctor has no check named ${name}`);
  return found;
}

/** A stand-in for ffmpeg/ffprobe that prints a recognisable `-version` banner. */
function fakeTool(dir: string, name: string, version: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(
    file,
    `#!/bin/sh\necho "${name} version ${version} Copyright (c) 2000-2024 the FFmpeg developers"\n`,
  );
  fs.chmodSync(file, 0o755);
  return file;
}

/** A PATH that holds only `dir` plus perl (exiftool needs it), so no system ffmpeg can be found. */
function isolatedPath(dir: string): NodeJS.ProcessEnv {
  for (const entry of (process.env.PATH ?? '').split(path.delimiter)) {
    const perl = path.join(entry, 'perl');
    if (entry && fs.existsSync(perl)) {
      fs.symlinkSync(perl, path.join(dir, 'perl'));
      break;
    }
  }
  return { PATH: dir };
}

function writeToolsConfig(home: string, tools: Record<string, string>): void {
  const file = path.join(home, 'config.json');
  const config = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(file, JSON.stringify({ ...config, tools }, null, 2));
}

describe('archivist doctor', () => {
  it('reports the tools with versions and paths, the home, the database and free disk', async () => {
    const home = await newHome();
    const { code, doc } = await doctorJson(home);

    // A missing ffmpeg is only a warning at this stage, so a fresh home is healthy either way.
    expect(code).toBe(0);
    expect(doc.ok).toBe(true);
    expect(doc.errors).toBe(0);

    const sharp = tool(doc, 'sharp');
    expect(sharp).toMatchObject({ ok: true, source: 'npm' });
    expect(sharp.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(sharp.libvips).toMatch(/^\d+\.\d+/);
    expect(fs.existsSync(sharp.path!)).toBe(true);

    const exiftool = tool(doc, 'exiftool');
    expect(exiftool.ok).toBe(true);
    expect(exiftool.version).toMatch(/^\d+\.\d+/);
    expect(fs.existsSync(exiftool.path!)).toBe(true);

    for (const name of ['ffmpeg', 'ffprobe']) {
      const ff = tool(doc, name);
      if (ff.ok) {
        expect(ff.version).toBeTruthy();
        expect(fs.existsSync(ff.path!)).toBe(true);
        expect(check(doc, name).status).toBe('ok');
      } else {
        expect(ff.hint).toContain('apt-get install ffmpeg');
        expect(check(doc, name).status).toBe('warning');
      }
    }

    expect(doc.home).toMatchObject({ path: fs.realpathSync(home), state: 'ok' });
    expect(doc.database).toMatchObject({ ok: true, integrity: 'ok' });
    expect(doc.database!.migrations.applied).toContain('0001-catalog');
    expect(doc.database!.migrations.pending).toEqual([]);
    expect(doc.database!.migrations.unknown).toEqual([]);
    expect(doc.config).toMatchObject({ ok: true });
    expect(doc.disk!.path).toBe(fs.realpathSync(home));
    expect(doc.disk!.freeBytes).toBeGreaterThan(0);
    expect(doc.disk!.totalBytes).toBeGreaterThanOrEqual(doc.disk!.freeBytes);
  });

  it('shows which HEIC path is active, with versions: native when vipsthumbnail is there, else WebAssembly', async () => {
    const home = await newHome();
    const native = await doctorJson(home);
    const heic = (
      native.doc as unknown as {
        decoders: { heic: { path: string; native: string | null; wasm: string | null } };
      }
    ).decoders.heic;
    // CI installs libvips-tools and libheif-examples (.ci/run).
    expect(heic).toMatchObject({ path: 'native' });
    expect(heic.native).toMatch(/^vipsthumbnail \d+\.\d+\.\d+ \(libheif \d+\.\d+\.\d+\)$/);
    expect(heic.wasm).toMatch(/^libheif-js \d+\.\d+\.\d+$/);
    expect(check(native.doc, 'heic')).toMatchObject({ status: 'ok' });
    expect(check(native.doc, 'heic').message).toContain(heic.native!);

    writeToolsConfig(home, { vipsthumbnail: false } as unknown as Record<string, string>);
    const fallback = await doctorJson(home);
    expect(fallback.code).toBe(0);
    expect(check(fallback.doc, 'heic')).toMatchObject({ status: 'warning' });
    expect(check(fallback.doc, 'heic').message).toMatch(
      /^WebAssembly fallback: libheif-js .*turned off in config\.json/,
    );
    expect(check(fallback.doc, 'heic').hint).toContain('libvips-tools');
  });

  it('prints every check for a person', async () => {
    const home = await newHome();
    const result = await runCli(['doctor'], { home });
    expect(result.code).toBe(0);
    for (const word of [
      'sharp',
      'libvips',
      'exiftool',
      'ffmpeg',
      'ffprobe',
      'home',
      'integrity ok',
      'disk',
    ]) {
      expect(result.stdout).toContain(word);
    }
  });

  it('works without a home: says so, how to make one, still lists the tools, creates nothing', async () => {
    const home = path.join(temp(), 'not-yet');
    const { code, doc } = await doctorJson(home);
    expect(code).toBe(0);
    expect(doc.home.state).toBe('missing');
    expect(check(doc, 'home')).toMatchObject({ status: 'warning' });
    expect(check(doc, 'home').hint).toContain('archivist init');
    expect(doc.tools.map((t) => t.name)).toEqual(['sharp', 'exiftool', 'ffmpeg', 'ffprobe', 'vipsthumbnail']);
    expect(doc.database).toBeNull();
    // Free space is measured where the home would be created.
    expect(doc.disk!.path).toBe(path.dirname(home));
    expect(fs.existsSync(home)).toBe(false);
  });

  it('reports an empty directory as not a home yet and leaves it empty', async () => {
    const home = temp();
    const { code, doc } = await doctorJson(home);
    expect(code).toBe(0);
    expect(doc.home.state).toBe('empty');
    expect(check(doc, 'home').hint).toContain('archivist init');
    expect(fs.readdirSync(home)).toEqual([]);
  });

  it('fails on a foreign directory, still lists the tools, and changes nothing in it', async () => {
    const home = temp();
    fs.writeFileSync(path.join(home, 'notes.txt'), 'not an archivist home');
    // A foreign SQLite file in WAL mode: even a read-only SQLite open would create -wal/-shm beside it.
    const foreign = new BetterSqlite3(path.join(home, 'archivist.db'));
    foreign.pragma('journal_mode = WAL');
    foreign.exec('create table meta (key text primary key, value text)');
    foreign.close();
    const before = fs.readdirSync(home).sort();

    const { code, doc } = await doctorJson(home);
    expect(code).toBe(1);
    expect(doc.home.state).toBe('foreign');
    expect(check(doc, 'home')).toMatchObject({ status: 'error' });
    expect(check(doc, 'home').hint).toContain('--home');
    expect(doc.tools.map((t) => t.name)).toEqual(['sharp', 'exiftool', 'ffmpeg', 'ffprobe', 'vipsthumbnail']);
    expect(fs.readdirSync(home).sort()).toEqual(before);
  });

  it('prefers the configured ffmpeg over PATH and warns, with the apt-get hint, when ffprobe is missing', async () => {
    const home = await newHome();
    const bin = temp();
    fakeTool(bin, 'ffmpeg', '1.0-on-path');
    const configured = fakeTool(temp(), 'ffmpeg', '9.9.9-configured');
    writeToolsConfig(home, { ffmpeg: configured });

    const { code, doc } = await doctorJson(home, isolatedPath(bin));
    expect(code).toBe(0);
    expect(tool(doc, 'ffmpeg')).toMatchObject({
      ok: true,
      version: '9.9.9-configured',
      path: configured,
      source: 'config',
    });
    const ffprobe = tool(doc, 'ffprobe');
    expect(ffprobe).toMatchObject({ ok: false, path: null });
    expect(ffprobe.problem).toContain('not found');
    expect(ffprobe.hint).toContain('apt-get install ffmpeg');
    expect(check(doc, 'ffprobe').status).toBe('warning');
    expect(doc.warnings).toBeGreaterThanOrEqual(1);

    const human = await runCli(['doctor'], { home, env: isolatedPath(temp()) });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/WARN\s+ffprobe/);
    expect(human.stdout).toContain('apt-get install ffmpeg');
  });

  it('finds ffprobe on PATH, and reports a broken configured ffmpeg instead of falling back to PATH', async () => {
    const home = await newHome();
    const bin = temp();
    const onPath = fakeTool(bin, 'ffprobe', '7.1-on-path');
    fakeTool(bin, 'ffmpeg', '7.1-on-path');
    const missing = path.join(temp(), 'no-such-ffmpeg');
    writeToolsConfig(home, { ffmpeg: missing });

    const { code, doc } = await doctorJson(home, isolatedPath(bin));
    expect(code).toBe(0);
    expect(tool(doc, 'ffprobe')).toMatchObject({
      ok: true,
      version: '7.1-on-path',
      path: onPath,
      source: 'system',
    });
    const ffmpeg = tool(doc, 'ffmpeg');
    expect(ffmpeg).toMatchObject({ ok: false, path: missing, source: 'config', version: null });
    expect(ffmpeg.problem).toContain('does not exist');
  });
});

// A healthy PostgreSQL home's report (server, latency, pool) is test/e2e/runs/postgres.test.ts's.
describeEachDialect('archivist doctor on the database', (dialect) => {
  it('fails with exit 1 when the database integrity check fails', async () => {
    const { home, url } = await newHomeOn(dialect);
    breakIntegrity(home, url);

    const { code, doc } = await doctorJson(home);
    expect(code).toBe(1);
    expect(doc.ok).toBe(false);
    expect(doc.database!.ok).toBe(false);
    expect(doc.database!.integrity).not.toBe('ok');
    if (url) expect(doc.database!.integrity).toBe('1 artifacts without lineage');
    expect(check(doc, 'database').status).toBe('error');

    const human = await runCli(['doctor'], { home });
    expect(human.code).toBe(1);
    expect(human.stdout).toContain('integrity check failed');
  });
});
