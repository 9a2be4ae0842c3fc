import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveManifest, type ManifestEntry } from '../helpers/archive-manifest.js';
import { REPO_ROOT, runCli, runCliJson, tempDir } from '../helpers/cli.js';
import { put } from '../helpers/media.js';
import { describeEachDialect } from '../helpers/postgres.js';

/**
 * The CLI's papercuts found by a new user (issue 16): the version, help that shows the global options,
 * option errors that say what was given, counts in words, an `asset` lookup that repeats what the
 * catalog found instead of "run catalog first", and `asset` output a person can read.
 */

let dir: string;
let cleanup: () => void;
let archive: string;
let before: ManifestEntry[];
beforeAll(() => {
  ({ dir, cleanup } = tempDir('archivist-cli-'));
  archive = path.join(dir, 'archive');
  fs.mkdirSync(path.join(archive, 'Problems'), { recursive: true });
  fs.copyFileSync(
    path.join(REPO_ROOT, 'test', 'fixtures', 'media', 'jpg', 'gps', 'DSCN0010.jpg'),
    path.join(archive, 'DSCN0010.jpg'),
  );
  put(archive, 'Problems/empty.JPG', '');
  put(archive, 'Problems/.DS_Store', 'junk');
  before = archiveManifest(archive);
});
afterAll(() => {
  if (archive) expect(archiveManifest(archive)).toEqual(before);
  cleanup?.();
});

describe('the CLI', () => {
  it('prints its version', async () => {
    const { version } = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    const result = await runCli(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(version);
  });

  it('shows the global --home and --json in every subcommand help', async () => {
    for (const args of [['assets'], ['run', 'start'], ['catalog'], ['run', 'compare']]) {
      const result = await runCli([...args, '--help']);
      expect(result.code, args.join(' ')).toBe(0);
      expect(result.stdout, args.join(' ')).toMatch(/--home <dir>/);
      expect(result.stdout, args.join(' ')).toMatch(/--json/);
    }
  });
});

// What the CLI reads back from the catalog and the runs, on each dialect's database.
describeEachDialect('the CLI on a home', (dialect) => {
  let home: string;
  beforeAll(async () => {
    home = path.join(dir, `home-${dialect.name}`);
    const url = await dialect.newDatabase();
    await runCliJson(['init', ...(url ? ['--database', url] : [])], { home });
    await runCliJson(['source', 'add', 'family', archive], { home });
  });

  it('says what was given when a number option is not a number', async () => {
    const result = await runCli(['assets', '--limit', 'abc'], { home });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--limit: expected a whole number, got "abc"');
    expect(result.stderr).not.toContain('NaN');
  });

  it('counts in words: one problem is "1 problem"', async () => {
    const result = await runCli(['catalog'], { home });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('1 problem:');
    expect(result.stdout).not.toMatch(/\b1 problems\b/);
    expect(result.stdout).toMatch(/empty-file\s+Problems\/empty\.JPG/);
  });

  it('says what the catalog found for a file it did not take, instead of "run catalog first"', async () => {
    const empty = await runCli(['asset', path.join(archive, 'Problems', 'empty.JPG')], { home });
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/found it and reported empty-file/);
    expect(empty.stderr).not.toMatch(/first/);
    const junk = await runCli(['asset', path.join(archive, 'Problems', '.DS_Store')], { home });
    expect(junk.code).toBe(2);
    expect(junk.stderr).toMatch(/junk the catalog always skips/);
  });

  it('shows an asset with its zone, place, lens and exposure in words, and explains the current mark', async () => {
    await runCliJson(['collection', 'create', 'all'], { home });
    const run = await runCli(
      ['run', 'start', 'core', '--collection', 'all', '--policy', 'production', '--json'],
      {
        home,
      },
    );
    expect(run.code, run.stderr).toBe(0);
    const shown = await runCli(['asset', path.join(archive, 'DSCN0010.jpg')], { home });
    expect(shown.code, shown.stderr).toBe(0);
    const json = await runCliJson<{ id: string; metadata: Record<string, unknown> }>(
      ['asset', path.join(archive, 'DSCN0010.jpg')],
      { home },
    );
    // As `run show` and the UI print a location, `source:path`, copied from there.
    const byName = await runCliJson<{ id: string }>(['asset', 'family:DSCN0010.jpg'], { home });
    expect(byName.id).toBe(json.id);
    const m = json.metadata;
    expect(shown.stdout).toContain('(* current:');
    expect(shown.stdout).toMatch(/\n {2}\* (metadata|thumbnail)/);
    expect(shown.stdout).toMatch(/taken\s+\S+ \(/);
    const gps = m.gps as { latitude: number; longitude: number };
    expect(shown.stdout).toContain(`place     ${gps.latitude.toFixed(5)}, ${gps.longitude.toFixed(5)}`);
    expect(shown.stdout).toContain(`1/${Math.round(1 / (m.exposureTime as number))} s`);
    expect(shown.stdout).toContain(`f/${Number((m.fNumber as number).toFixed(1))}`);
    expect(shown.stdout).toMatch(/camera\s+NIKON/);
    expect(shown.stdout).not.toMatch(/exposureTime|fNumber/);
  });
});

describe('homes and sources on one machine', () => {
  it('refuses a new home inside another home’s source, and a source holding another home', async () => {
    const { dir: root, cleanup: done } = tempDir('archivist-homes-');
    try {
      const photos = path.join(root, 'photos');
      put(photos, 'a.jpg', 'not really a photo');
      const first = path.join(root, 'first-home');
      await runCliJson(['init'], { home: first });
      await runCliJson(['source', 'add', 'photos', photos], { home: first });
      const manifest = archiveManifest(photos);

      const inside = await runCli(['init'], { home: path.join(photos, 'newhome') });
      expect(inside.code).toBe(2);
      expect(inside.stderr).toContain(`is inside ${photos}, a source of the home ${first}`);
      expect(archiveManifest(photos)).toEqual(manifest); // nothing was written into the archive

      // A second home elsewhere may not take a folder holding the first home as a source.
      const other = tempDir('archivist-homes-');
      try {
        const second = path.join(other.dir, 'second-home');
        await runCliJson(['init'], { home: second });
        const holding = await runCli(['source', 'add', 'everything', root], { home: second });
        expect(holding.code).toBe(2);
        expect(holding.stderr).toContain(`${root} holds the Archivist home ${first}`);
      } finally {
        other.cleanup();
      }
    } finally {
      done();
    }
  });
});

describe('a home inside an archive', () => {
  it('is skipped and reported by the catalog, never cataloged', async () => {
    const { dir: root, cleanup: done } = tempDir('archivist-inner-home-');
    try {
      const photos = path.join(root, 'photos');
      put(photos, 'a.jpg', 'not really a photo');
      const outer = path.join(root, 'outer-home');
      await runCliJson(['init'], { home: outer });
      await runCliJson(['source', 'add', 'photos', photos], { home: outer });
      // Made where no registry could warn (another user's, or a registry that is gone).
      const elsewhere = path.join(root, 'other-state');
      const inner = await runCli(['init'], {
        home: path.join(photos, 'newhome'),
        env: { ARCHIVIST_STATE_DIR: elsewhere },
      });
      expect(inner.code, inner.stderr).toBe(0);
      const [summary] = await runCliJson<{ errors: { path: string; reason: string }[] }[]>(['catalog'], {
        home: outer,
      });
      expect(summary!.errors).toContainEqual(
        expect.objectContaining({ path: 'newhome', reason: 'archivist-home' }),
      );
      const assets = await runCliJson<{ locations: { path: string }[] }[]>(['assets'], { home: outer });
      expect(assets.flatMap((a) => a.locations.map((l) => l.path))).toEqual(['a.jpg']);
    } finally {
      done();
    }
  });
});
