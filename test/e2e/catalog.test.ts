import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { archiveManifest, type ManifestEntry } from '../helpers/archive-manifest.js';
import { othersCanRunCli, runCli, tempDir, type CliOptions, type CliResult } from '../helpers/cli.js';
import { makeJpeg, makePng, mp4Header, put, sha256 } from '../helpers/media.js';
import { describeEachDialect, type TestDialect } from '../helpers/postgres.js';

/**
 * `catalog` of issue 2 on generated trees, through the built CLI: what is cataloged, skipped and
 * reported, and how a re-scan sees unchanged, moved, missing, restored and changed files. After every
 * CLI run the archive must be exactly as it was (PRODUCT section 1).
 */

interface CatalogSummary {
  source: string;
  scanned: number;
  new: number;
  changed: number;
  unchanged: number;
  moved: number;
  missing: number;
  restored: number;
  missingTotal: number;
  hashed: number;
  bytesHashed: number;
  skipped: { junk: number; symlinks: number };
  errors: { path: string; reason: string; message: string }[];
}

interface AssetJson {
  id: string;
  mediaType: string;
  mime: string | null;
  size: number;
  sha256: string;
  locations: { source: string; path: string; status: 'present' | 'missing' }[];
}

interface SourceJson {
  name: string;
  path: string;
  files: number;
  missing: number;
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!();
});

/**
 * A home and one source "archive" over a generated tree. Every CLI run through `cli`/`json` is followed by
 * a check that the archive (and the folder its outward symlinks point to) is unchanged since the last
 * `retake()`, which a test calls only after changing the archive on purpose.
 */
async function fixture(
  build: (archive: string, outside: string) => Promise<void>,
  options: {
    as?: Pick<CliOptions, 'uid' | 'gid'>;
    beforeManifest?: (root: string) => void;
    /** The truth store: the home's own SQLite file, or a new PostgreSQL database (`init --database`). */
    dialect?: TestDialect;
  } = {},
) {
  const { dir: root, cleanup } = tempDir('archivist-catalog-');
  cleanups.push(cleanup);
  const archive = path.join(root, 'archive');
  const outside = path.join(root, 'outside');
  const home = path.join(root, 'home');
  fs.mkdirSync(archive);
  fs.mkdirSync(outside);
  await build(archive, outside);
  options.beforeManifest?.(root);

  const snapshot = () => ({ archive: archiveManifest(archive), outside: archiveManifest(outside) });
  let expected = snapshot();

  const cli = async (args: string[]): Promise<CliResult> => {
    const result = await runCli(args, { home, ...options.as });
    expect(snapshot(), `the archive changed during \`archivist ${args.join(' ')}\``).toEqual(expected);
    return result;
  };
  const json = async <T>(args: string[]): Promise<T> => {
    const result = await cli([...args, '--json']);
    if (result.code !== 0) {
      throw new Error(`archivist ${args.join(' ')} exited ${result.code}\n${result.stderr}${result.stdout}`);
    }
    return JSON.parse(result.stdout) as T;
  };

  const database = await options.dialect?.newDatabase();
  await json(['init', ...(database ? ['--database', database] : [])]);
  await json(['source', 'add', 'archive', archive]);

  return {
    root,
    archive,
    outside,
    home,
    cli,
    json,
    /** The manifest the archive is currently held to. */
    expectedArchive: () => expected.archive,
    /** The archive was changed on purpose by the test: this is the new state to hold on to. */
    retake: () => {
      expected = snapshot();
    },
    catalog: async (): Promise<CatalogSummary> => {
      const summaries = await json<CatalogSummary[]>(['catalog']);
      expect(summaries).toHaveLength(1);
      expect(summaries[0]!.source).toBe('archive');
      return summaries[0]!;
    },
    /** Every location, by path, with the asset it belongs to. */
    locations: async () => {
      const assets = await json<AssetJson[]>(['assets']);
      const byPath = new Map<string, { asset: AssetJson; status: string }>();
      for (const asset of assets) {
        for (const location of asset.locations) {
          expect(location.source).toBe('archive');
          expect(byPath.has(location.path), `${location.path} listed twice`).toBe(false);
          byPath.set(location.path, { asset, status: location.status });
        }
      }
      return { assets, byPath };
    },
    sources: () => json<SourceJson[]>(['source', 'list']),
  };
}

function errorsOf(summary: CatalogSummary): [string, string][] {
  return summary.errors
    .map((e): [string, string] => [e.path, e.reason])
    .sort((a, b) => a[0].localeCompare(b[0]));
}

function mkfifo(file: string): void {
  execFileSync('mkfifo', [file]);
}

describeEachDialect('catalog of a messy tree', (dialect) => {
  it('catalogs what it must, skips junk, reports problems, and re-scans without reading', async () => {
    /** What must be cataloged: path -> content and expected media type / MIME. */
    const expected = new Map<string, { data: Buffer; mediaType: string; mime?: string }>();
    const deepDir = Array.from({ length: 60 }, (_, i) => `level-${String(i).padStart(2, '0')}`).join('/');
    const nfc = 'caf\u00e9.png';
    const nfd = 'cafe\u0301.png';
    let junkCount = 0;

    const f = await fixture(
      async (archive, outside) => {
        const media = (rel: string, data: Buffer, mediaType: string, mime?: string) => {
          put(archive, rel, data);
          expected.set(rel, { data, mediaType, mime });
        };
        const jpeg1 = await makeJpeg(1);
        media('a.jpg', jpeg1, 'image', 'image/jpeg');
        media('copies/a (copy).jpg', jpeg1, 'image', 'image/jpeg');
        media(`${deepDir}/deep.png`, await makePng(2), 'image', 'image/png');
        media(nfc, await makePng(3), 'image', 'image/png');
        media(nfd, await makePng(4), 'image', 'image/png');
        media('emoji 🎉 party.jpg', await makeJpeg(5), 'image', 'image/jpeg');
        media('with  spaces/photo one .jpg', await makeJpeg(6), 'image', 'image/jpeg');
        media('日本/写真.png', await makePng(8), 'image', 'image/png');
        media('.hidden-photo.jpg', await makeJpeg(11), 'image', 'image/jpeg');
        media('nested/n.jpg', await makeJpeg(12), 'image', 'image/jpeg');
        // Magic bytes first: a PNG named .jpg is a PNG image; a JPEG without an extension is an image.
        media('png-named.jpg', await makePng(9), 'image', 'image/png');
        media('jpeg-without-extension', await makeJpeg(10), 'image', 'image/jpeg');
        media('clip.bin', mp4Header(), 'video', 'video/mp4');
        // Content that no magic number recognises falls back to the extension (so a damaged photo still
        // reaches the pipeline, and fails there with a reason).
        media('text-named.jpg', Buffer.from('this is not a JPEG\n'), 'image', 'image/jpeg');
        media('garbage.mov', Buffer.from('not a movie either\n'), 'video', 'video/quicktime');
        media('IMG_0001.xmp', Buffer.from('<x:xmpmeta>1</x:xmpmeta>'), 'sidecar');
        media('IMG_0001.AAE', Buffer.from('<plist>2</plist>'), 'sidecar');
        media('notes.txt', Buffer.from('some notes\n'), 'other');

        // Junk: each would be cataloged if it were not skipped (most hold real JPEGs).
        const junk = async (rel: string, seed: number) => {
          put(archive, rel, await makeJpeg(100 + seed));
          junkCount++;
        };
        await junk('.DS_Store', 1);
        await junk('._a.jpg', 2);
        await junk('Thumbs.db', 3);
        await junk('desktop.ini', 4);
        await junk('@eaDir/a.jpg/SYNOPHOTO_THUMB_XL.jpg', 5);
        await junk('.Trashes/501/old.jpg', 6);
        await junk('.Spotlight-V100/Store-V2/x.jpg', 7);
        await junk('#recycle/deleted.jpg', 8);
        await junk('#snapshot/daily/a.jpg', 9);
        await junk('.stversions/a~20200101.jpg', 10);
        await junk('.thumbnails/normal/t.jpg', 11);
        await junk('nested/@eaDir/n.jpg/thumb.jpg', 12);
        await junk('nested/.DS_Store', 13);
        await junk('nested/._n.jpg', 14);

        // Problems, each reported and none fatal.
        put(archive, 'empty.jpg', '');
        fs.symlinkSync('loop-b', path.join(archive, 'loop-a'));
        fs.symlinkSync('loop-a', path.join(archive, 'loop-b'));
        fs.symlinkSync('..', path.join(archive, 'nested', 'up')); // a link to its own parent: a loop
        put(outside, 'secret.jpg', await makeJpeg(200));
        fs.symlinkSync(outside, path.join(archive, 'outside-link'));
        fs.symlinkSync(path.join(outside, 'secret.jpg'), path.join(archive, 'outside-file.jpg'));
        mkfifo(path.join(archive, 'fifo'));
        // A symlink to a file inside the source is not followed either; the file is cataloged where it is.
        fs.symlinkSync('a.jpg', path.join(archive, 'alias.jpg'));
      },
      { dialect },
    );

    const first = await f.catalog();
    expect(errorsOf(first)).toEqual([
      ['empty.jpg', 'empty-file'],
      ['fifo', 'not-a-regular-file'],
      ['loop-a', 'symlink-loop'],
      ['loop-b', 'symlink-loop'],
      ['nested/up', 'symlink-loop'],
      ['outside-file.jpg', 'symlink-outside-source'],
      ['outside-link', 'symlink-outside-source'],
    ]);
    for (const error of first.errors) expect(error.message.length).toBeGreaterThan(0);
    expect(first).toMatchObject({
      scanned: expected.size + 1, // + empty.jpg
      new: expected.size,
      hashed: expected.size,
      changed: 0,
      unchanged: 0,
      moved: 0,
      missing: 0,
      skipped: { junk: junkCount, symlinks: 6 },
    });
    expect(first.bytesHashed).toBe([...expected.values()].reduce((sum, e) => sum + e.data.length, 0));

    const { assets, byPath } = await f.locations();
    // Exactly the expected files: no junk, nothing behind a symlink, no empty file.
    expect([...byPath.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [rel, want] of expected) {
      const got = byPath.get(rel)!;
      expect(got.status, rel).toBe('present');
      expect(got.asset.sha256, rel).toBe(sha256(want.data));
      expect(got.asset.id, rel).toBe(sha256(want.data));
      expect(got.asset.size, rel).toBe(want.data.length);
      expect(got.asset.mediaType, rel).toBe(want.mediaType);
      if (want.mime) expect(got.asset.mime, rel).toBe(want.mime);
    }
    // NFC and NFD spellings are two different files, each kept byte-exact.
    expect(byPath.get(nfc)!.asset.id).not.toBe(byPath.get(nfd)!.asset.id);
    // Identical content at two paths: one asset, two locations.
    const copy = byPath.get('a.jpg')!.asset;
    expect(copy.locations.map((l) => l.path).sort()).toEqual(['a.jpg', 'copies/a (copy).jpg']);
    expect(assets.filter((a) => a.id === copy.id)).toHaveLength(1);
    expect(assets).toHaveLength(expected.size - 1);

    // The second pass only stats: everything unchanged, nothing read, the same problems reported.
    const second = await f.catalog();
    expect(second).toMatchObject({
      scanned: first.scanned,
      new: 0,
      changed: 0,
      unchanged: expected.size,
      moved: 0,
      missing: 0,
      restored: 0,
      missingTotal: 0,
      hashed: 0,
      bytesHashed: 0,
    });
    expect(errorsOf(second)).toEqual(errorsOf(first));

    const sources = await f.sources();
    expect(sources).toEqual([expect.objectContaining({ name: 'archive', files: expected.size, missing: 0 })]);

    // A person gets the same story in words.
    const human = await f.cli(['catalog']);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`unchanged ${expected.size}`);
    expect(human.stdout).toMatch(/symlink-outside-source\s+outside-link/);
  });
});

describeEachDialect('catalog over time: moved, missing, restored and changed files', (dialect) => {
  it('tracks each change to the archive between scans', async () => {
    const bytes = new Map<string, Buffer>();
    const f = await fixture(
      async (archive) => {
        for (const [rel, seed] of [
          ['2019/a.jpg', 1],
          ['2019/b.jpg', 2],
          ['2019/c.jpg', 3],
          ['2019/d.jpg', 4],
          ['2019/e.jpg', 5],
          ['2019/f.jpg', 6],
          ['dup/f-copy.jpg', 6],
        ] as const) {
          const data = await makeJpeg(seed);
          bytes.set(rel, data);
          put(archive, rel, data);
        }
      },
      { dialect },
    );
    const at = (rel: string) => path.join(f.archive, ...rel.split('/'));
    const idOf = (rel: string) => sha256(bytes.get(rel)!);

    const first = await f.catalog();
    expect(first).toMatchObject({ new: 7, hashed: 7, errors: [] });

    // 1. One file moved to another folder, another deleted: exactly one move and one missing.
    fs.mkdirSync(at('2020/trip'), { recursive: true });
    fs.renameSync(at('2019/a.jpg'), at('2020/trip/a.jpg'));
    fs.rmSync(at('2019/b.jpg'));
    f.retake();
    expect(await f.catalog()).toMatchObject({
      new: 0,
      changed: 0,
      unchanged: 5,
      moved: 1,
      missing: 1,
      restored: 0,
      missingTotal: 1,
      hashed: 0, // a rename keeps inode, size and mtime: the move is recognised without reading
    });
    let { byPath } = await f.locations();
    const moved = byPath.get('2020/trip/a.jpg')!;
    expect(moved.asset.id, 'a moved file keeps its asset').toBe(idOf('2019/a.jpg'));
    expect(moved.asset.locations).toEqual([
      expect.objectContaining({ path: '2020/trip/a.jpg', status: 'present' }),
    ]);
    expect(byPath.has('2019/a.jpg')).toBe(false);
    const gone = byPath.get('2019/b.jpg')!;
    expect(gone.status, 'a deleted file is marked missing, not forgotten').toBe('missing');
    expect(gone.asset.id).toBe(idOf('2019/b.jpg'));
    expect(await f.sources()).toEqual([expect.objectContaining({ files: 6, missing: 1 })]);
    // `asset` answers by path, for the moved file and for the missing one.
    const one = await f.json<AssetJson>(['asset', at('2020/trip/a.jpg')]);
    expect(one.id).toBe(idOf('2019/a.jpg'));
    expect(one.locations.map((l) => [l.path, l.status])).toEqual([['2020/trip/a.jpg', 'present']]);
    const missingOne = await f.json<AssetJson>(['asset', at('2019/b.jpg')]);
    expect(missingOne.id).toBe(idOf('2019/b.jpg'));
    expect(missingOne.locations.map((l) => [l.path, l.status])).toEqual([['2019/b.jpg', 'missing']]);

    // 2. The deleted file comes back (same bytes, new inode): reported back, its location present again.
    put(f.archive, '2019/b.jpg', bytes.get('2019/b.jpg')!);
    f.retake();
    expect(await f.catalog()).toMatchObject({
      new: 0,
      moved: 0,
      missing: 0,
      restored: 1,
      missingTotal: 0,
      changed: 0,
      hashed: 1,
    });
    ({ byPath } = await f.locations());
    expect(byPath.get('2019/b.jpg')).toMatchObject({ status: 'present', asset: { id: idOf('2019/b.jpg') } });
    expect(await f.sources()).toEqual([expect.objectContaining({ files: 7, missing: 0 })]);

    // 3. New content at the same path: changed, and the path points to a new asset.
    const edited = await makeJpeg(30);
    fs.writeFileSync(at('2019/c.jpg'), edited);
    f.retake();
    expect(await f.catalog()).toMatchObject({ new: 0, changed: 1, moved: 0, missing: 0, hashed: 1 });
    const afterEdit = await f.locations();
    const assets = afterEdit.assets;
    byPath = afterEdit.byPath;
    expect(byPath.get('2019/c.jpg')!.asset.id).toBe(sha256(edited));
    expect(sha256(edited)).not.toBe(idOf('2019/c.jpg'));
    expect(
      assets.find((a) => a.id === idOf('2019/c.jpg')),
      'the old content has no location left',
    ).toBeUndefined();

    // 4. Moved, then edited: the edited file is a new asset; the old path is missing, not "moved".
    const movedEdited = await makeJpeg(40);
    fs.mkdirSync(at('2021'));
    fs.renameSync(at('2019/d.jpg'), at('2021/d.jpg'));
    fs.writeFileSync(at('2021/d.jpg'), movedEdited);
    f.retake();
    expect(await f.catalog()).toMatchObject({
      new: 1,
      changed: 0,
      moved: 0,
      missing: 1,
      missingTotal: 1,
      hashed: 1,
    });
    ({ byPath } = await f.locations());
    expect(byPath.get('2021/d.jpg')).toMatchObject({ status: 'present', asset: { id: sha256(movedEdited) } });
    expect(byPath.get('2019/d.jpg')).toMatchObject({ status: 'missing', asset: { id: idOf('2019/d.jpg') } });

    // 5. Copied to another folder (new inode and mtime) and the original deleted: still a move, found by hash.
    fs.mkdirSync(at('elsewhere'));
    fs.writeFileSync(at('elsewhere/e.jpg'), bytes.get('2019/e.jpg')!);
    fs.rmSync(at('2019/e.jpg'));
    f.retake();
    expect(await f.catalog()).toMatchObject({ new: 0, moved: 1, missing: 0, missingTotal: 1, hashed: 1 });
    ({ byPath } = await f.locations());
    expect(byPath.get('elsewhere/e.jpg')!.asset.id).toBe(idOf('2019/e.jpg'));
    expect(byPath.get('elsewhere/e.jpg')!.asset.locations).toHaveLength(1);
    expect(byPath.has('2019/e.jpg')).toBe(false);

    // 6. One of two copies deleted: the asset keeps both locations, one present and one missing.
    fs.rmSync(at('dup/f-copy.jpg'));
    f.retake();
    expect(await f.catalog()).toMatchObject({ moved: 0, missing: 1, missingTotal: 2, hashed: 0 });
    ({ byPath } = await f.locations());
    expect(
      byPath
        .get('2019/f.jpg')!
        .asset.locations.map((l) => [l.path, l.status])
        .sort(),
    ).toEqual([
      ['2019/f.jpg', 'present'],
      ['dup/f-copy.jpg', 'missing'],
    ]);

    // 7. An unreachable source (an unmounted disk) is refused: nothing is marked missing.
    const away = `${f.archive}-away`;
    fs.renameSync(f.archive, away);
    const unreachable = await runCli(['catalog', '--json'], { home: f.home });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/not reachable/);
    fs.renameSync(away, f.archive);
    // Renaming the root changed its ctime (our doing); nothing else may have changed.
    const rootCtimeAside = (entries: ManifestEntry[]) =>
      entries.map((e) => (e.path === '.' ? { ...e, ctimeNs: '(renamed)' } : e));
    expect(rootCtimeAside(archiveManifest(f.archive))).toEqual(rootCtimeAside(f.expectedArchive()));
    f.retake();
    expect(await f.catalog()).toMatchObject({
      new: 0,
      changed: 0,
      moved: 0,
      missing: 0,
      restored: 0,
      missingTotal: 2,
      hashed: 0,
      unchanged: 6,
    });
    expect(await f.sources()).toEqual([expect.objectContaining({ files: 6, missing: 2 })]);

    // 8. An unknown source name is refused before anything is scanned.
    const unknown = await f.cli(['catalog', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no source named "nope"/);
  });

  it('refuses to catalog when there are no sources yet', async () => {
    const { dir, cleanup } = tempDir('archivist-catalog-');
    cleanups.push(cleanup);
    const home = path.join(dir, 'home');
    const database = await dialect.newDatabase();
    expect((await runCli(['init', ...(database ? ['--database', database] : [])], { home })).code).toBe(0);
    const result = await runCli(['catalog'], { home });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/source add/);
  });
});

describeEachDialect('catalog of files it may not read', (dialect) => {
  const NOBODY = 65534;
  const isRoot = process.getuid?.() === 0;
  // Root reads through any permission, so as root the CLI runs as `nobody`; as any other user it runs
  // as that user, for whom mode 000 already means unreadable.
  // As root, `nobody` must be able to reach the clone (see othersCanRunCli).
  const canTest =
    process.platform !== 'win32' && process.getuid !== undefined && (!isRoot || othersCanRunCli());

  it.skipIf(!canTest)(
    'reports unreadable files and folders, goes on, and does not call them missing',
    async () => {
      const walk = (dir: string, visit: (abs: string, isDir: boolean) => void) => {
        for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
          const abs = path.join(dir, entry.name);
          visit(abs, entry.isDirectory());
          if (entry.isDirectory()) walk(abs, visit);
        }
      };
      const f = await fixture(
        async (archive) => {
          put(archive, 'readable.jpg', await makeJpeg(1));
          put(archive, 'secret.jpg', await makeJpeg(2));
          put(archive, 'locked/inside.jpg', await makeJpeg(3));
          put(archive, 'no-exec/inside.jpg', await makeJpeg(4));
        },
        {
          as: isRoot ? { uid: NOBODY, gid: NOBODY } : {},
          dialect,
          beforeManifest: (root) => {
            // Readable by `nobody` (the temp folder is 0700 root); the home is nobody's to write.
            fs.chmodSync(root, 0o755);
            walk(root, (abs, isDir) => fs.chmodSync(abs, isDir ? 0o755 : 0o644));
            fs.chmodSync(path.join(root, 'archive', 'secret.jpg'), 0o000);
            if (isRoot) {
              fs.mkdirSync(path.join(root, 'home'));
              fs.chownSync(path.join(root, 'home'), NOBODY, NOBODY);
            }
          },
        },
      );
      cleanups.push(() => walk(f.root, (abs, isDir) => isDir && fs.chmodSync(abs, 0o755)));
      cleanups.push(() => fs.chmodSync(f.archive, 0o755));

      const first = await f.catalog();
      expect(errorsOf(first)).toEqual([['secret.jpg', 'permission-denied']]);
      expect(first).toMatchObject({ scanned: 4, new: 3, hashed: 3 });

      // Now a folder cannot be listed, another cannot be entered, and more files arrive, one unreadable.
      fs.chmodSync(path.join(f.archive, 'locked'), 0o000);
      fs.chmodSync(path.join(f.archive, 'no-exec'), 0o644);
      put(f.archive, 'open/later.jpg', await makeJpeg(5));
      put(f.archive, 'also-secret.jpg', await makeJpeg(6));
      fs.chmodSync(path.join(f.archive, 'open'), 0o755);
      fs.chmodSync(path.join(f.archive, 'open', 'later.jpg'), 0o644);
      fs.chmodSync(path.join(f.archive, 'also-secret.jpg'), 0o000);
      f.retake();

      const second = await f.catalog();
      expect(errorsOf(second)).toEqual([
        ['also-secret.jpg', 'permission-denied'],
        ['locked', 'permission-denied'],
        ['no-exec/inside.jpg', 'permission-denied'],
        ['secret.jpg', 'permission-denied'],
      ]);
      // The scan went on past every problem, and what it could not see is unknown, not missing.
      expect(second).toMatchObject({ new: 1, unchanged: 1, missing: 0, missingTotal: 0, changed: 0 });
      const { byPath } = await f.locations();
      expect([...byPath.entries()].map(([rel, l]) => [rel, l.status]).sort()).toEqual([
        ['locked/inside.jpg', 'present'],
        ['no-exec/inside.jpg', 'present'],
        ['open/later.jpg', 'present'],
        ['readable.jpg', 'present'],
      ]);
    },
  );
});
