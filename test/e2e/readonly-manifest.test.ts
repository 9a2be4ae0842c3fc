import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveManifest, type ManifestEntry } from '../helpers/archive-manifest.js';
import { runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { makeJpeg, makePng, put } from '../helpers/media.js';
import { describeEachDialect } from '../helpers/postgres.js';

/**
 * PRODUCT section 1, non-negotiable 1: originals are read-only. A generated fixture archive is recorded
 * (path, type, size, mtime, ctime, inode, mode, SHA-256, symlink target, full listing with hidden and
 * junk files) before Archivist sees it, and must be identical after init, source add, two catalogs and
 * the read commands.
 */

let root: string;
let archive: string;
let outside: string;
let cleanup: () => void;
let before: ManifestEntry[];
let outsideBefore: ManifestEntry[];

beforeAll(async () => {
  ({ dir: root, cleanup } = tempDir('archivist-readonly-'));
  archive = path.join(root, 'archive');
  outside = path.join(root, 'outside');

  put(archive, 'IMG_0001.jpg', await makeJpeg(1));
  put(archive, 'IMG_0002.jpg', await makeJpeg(2, { progressive: true }));
  put(archive, 'scan.png', await makePng(3));
  put(archive, '2019/summer/beach.jpg', await makeJpeg(4));
  put(archive, '2019/summer/beach copy.jpg', await makeJpeg(4));
  put(archive, '2019/summer/beach.xmp', '<x:xmpmeta>rating 5</x:xmpmeta>');
  put(archive, '2019/winter/snow.png', await makePng(5));
  put(archive, '2019/winter/empty.jpg', '');
  put(archive, '.hidden/secret-album.jpg', await makeJpeg(6));
  put(archive, '.picasa.ini', '[picasa]\n');
  // Junk that Archivist skips must not be touched either.
  put(archive, '.DS_Store', 'Bud1 junk');
  put(archive, '2019/._beach.jpg', 'AppleDouble junk');
  put(archive, '@eaDir/IMG_0001.jpg/SYNOPHOTO_THUMB_M.jpg', await makeJpeg(7));
  fs.symlinkSync('2019/summer/beach.jpg', path.join(archive, 'latest.jpg'));
  fs.symlinkSync(outside, path.join(archive, 'elsewhere'));
  put(outside, 'not-in-the-archive.jpg', await makeJpeg(8));

  // Old timestamps and unusual modes: any tool that touched, re-saved or chmod-ed a file would show.
  const old = new Date('2009-07-14T10:00:00Z');
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const abs = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(abs);
      if (!entry.isSymbolicLink()) fs.utimesSync(abs, old, old);
    }
  };
  walk(archive);
  fs.chmodSync(path.join(archive, 'IMG_0001.jpg'), 0o444);
  fs.chmodSync(path.join(archive, 'scan.png'), 0o600);
  fs.utimesSync(archive, old, old);

  before = archiveManifest(archive);
  outsideBefore = archiveManifest(outside);
});

afterAll(() => cleanup());

async function run(home: string, args: string[]): Promise<CliResult> {
  const result = await runCli(args, { home });
  expect(result.code, `archivist ${args.join(' ')}: ${result.stderr}`).toBe(0);
  return result;
}

describe('the archive is exactly as it was', () => {
  it('records what the check compares', () => {
    const byPath = new Map(before.map((e) => [e.path, e]));
    // The manifest sees hidden files, junk, folders and symlinks (recorded, not followed).
    for (const rel of [
      '.DS_Store',
      '.hidden/secret-album.jpg',
      '2019/._beach.jpg',
      '@eaDir',
      '.picasa.ini',
    ]) {
      expect(byPath.has(rel), rel).toBe(true);
    }
    expect(byPath.get('latest.jpg')).toMatchObject({ type: 'symlink', target: '2019/summer/beach.jpg' });
    expect(byPath.get('2019/summer')).toMatchObject({ type: 'dir' });
    expect(byPath.get('IMG_0001.jpg')!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(byPath.get('IMG_0001.jpg')!.mode & 0o777).toBe(0o444);
  });
});

describeEachDialect('the archive is exactly as it was, with a home', (dialect) => {
  it('after init, source add, catalog, catalog again, source list and the read commands', async () => {
    const home = path.join(root, `home-${dialect.name}`);
    const database = await dialect.newDatabase();
    await run(home, ['init', ...(database ? ['--database', database] : [])]);
    await run(home, ['source', 'add', 'archive', archive]);
    const first = JSON.parse((await run(home, ['catalog', '--json'])).stdout) as {
      new: number;
      hashed: number;
      errors: { path: string; reason: string }[];
    }[];
    // The check is not vacuous: the catalog did read every file it had to.
    expect(first[0]).toMatchObject({ new: 9, hashed: 9 });
    expect(first[0]!.errors.map((e) => e.reason).sort()).toEqual(['empty-file', 'symlink-outside-source']);
    const second = JSON.parse((await run(home, ['catalog', '--json'])).stdout) as {
      unchanged: number;
      hashed: number;
    }[];
    expect(second[0]).toMatchObject({ unchanged: 9, hashed: 0 });
    await run(home, ['source', 'list']);
    await run(home, ['source', 'list', '--json']);
    await run(home, ['catalog']);
    await run(home, ['assets', '--json']);
    await run(home, ['asset', path.join(archive, '2019', 'summer', 'beach.jpg'), '--json']);
    await run(home, ['verify-readonly', 'archive']);
    await run(home, ['verify-readonly', 'archive']);

    const after = archiveManifest(archive);
    // Compare entry by entry first, so a failure names the file and what changed about it.
    const afterByPath = new Map(after.map((e) => [e.path, e]));
    for (const entry of before) expect(afterByPath.get(entry.path), entry.path).toEqual(entry);
    expect(after.map((e) => e.path)).toEqual(before.map((e) => e.path));
    expect(after).toEqual(before);
    expect(archiveManifest(outside)).toEqual(outsideBefore);
  });
});
