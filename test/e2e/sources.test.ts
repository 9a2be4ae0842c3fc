import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson, tempDir } from '../helpers/cli.js';
import { describeEachDialect } from '../helpers/postgres.js';

/**
 * `source add` of issue 2: paths are canonicalized (realpath) before every check, and each refusal exits 2
 * with a message saying what is wrong, without adding anything.
 */

interface SourceJson {
  name: string;
  path: string;
}

let root: string;
let home: string;
let cleanup: () => void;

describeEachDialect('sources', (dialect) => {
  /**
   * root/
   *   home/                     the Archivist home
   *   archives/photos/          source "photos" (added in beforeAll)
   *   archives/photos/2019/
   *   archives/photos/..hidden/ a folder whose name starts with two dots
   *   archives/videos/, archives/scans/, archives/phone/
   *   file.txt
   *   links/                    symlinks into all of the above
   */
  beforeAll(async () => {
    ({ dir: root, cleanup } = tempDir('archivist-sources-'));
    home = path.join(root, 'home');
    for (const dir of [
      'archives/photos/2019',
      'archives/photos/..hidden',
      'archives/videos',
      'archives/scans',
      'archives/phone',
      'links',
    ]) {
      fs.mkdirSync(path.join(root, dir), { recursive: true });
    }
    fs.writeFileSync(path.join(root, 'file.txt'), 'not a folder');
    const link = (name: string, target: string) => fs.symlinkSync(target, path.join(root, 'links', name));
    link('into-photos', path.join(root, 'archives', 'photos', '2019'));
    link('relative-into-photos', '../archives/photos/2019');
    link('to-archives', path.join(root, 'archives'));
    link('into-home', path.join(home, 'artifacts'));
    link('to-file', path.join(root, 'file.txt'));
    link('to-scans', '../archives/scans');
    link('dangling', path.join(root, 'nowhere'));

    const database = await dialect.newDatabase();
    await runCliJson(['init', ...(database ? ['--database', database] : [])], { home });
    await runCliJson(['source', 'add', 'photos', path.join(root, 'archives', 'photos')], { home });
    expect(await runCliJson<SourceJson[]>(['source', 'list'], { home })).toEqual([
      expect.objectContaining({ name: 'photos', path: path.join(root, 'archives', 'photos') }),
    ]);
  });

  afterAll(() => cleanup());

  describe('source add refuses, with exit 2 and a message, and adds nothing', () => {
    const cases: { label: string; name: string; path: () => string; message: RegExp }[] = [
      {
        label: 'a path that does not exist',
        name: 'case-1',
        path: () => path.join(root, 'nope'),
        message: /does not exist/,
      },
      {
        label: 'a dangling symlink',
        name: 'case-2',
        path: () => path.join(root, 'links', 'dangling'),
        message: /does not exist/,
      },
      {
        label: 'a file',
        name: 'case-3',
        path: () => path.join(root, 'file.txt'),
        message: /not a directory/,
      },
      {
        label: 'a symlink to a file',
        name: 'case-4',
        path: () => path.join(root, 'links', 'to-file'),
        message: /not a directory/,
      },
      {
        label: 'a folder inside the home',
        name: 'case-5',
        path: () => path.join(home, 'artifacts'),
        message: /inside the Archivist home/,
      },
      { label: 'the home itself', name: 'case-6', path: () => home, message: /inside the Archivist home/ },
      {
        label: 'a symlink into the home',
        name: 'case-7',
        path: () => path.join(root, 'links', 'into-home'),
        message: /inside the Archivist home/,
      },
      {
        label: 'a folder containing the home',
        name: 'case-8',
        path: () => root,
        message: /contains the Archivist home/,
      },
      {
        label: 'a folder inside another source',
        name: 'case-9',
        path: () => path.join(root, 'archives', 'photos', '2019'),
        message: /inside the source "photos"/,
      },
      {
        label: 'a folder named "..hidden" inside another source',
        name: 'case-10',
        path: () => path.join(root, 'archives', 'photos', '..hidden'),
        message: /inside the source "photos"/,
      },
      {
        label: 'the same folder as another source',
        name: 'case-11',
        path: () => path.join(root, 'archives', 'photos'),
        message: /inside the source "photos"/,
      },
      {
        label: 'a folder containing another source',
        name: 'case-12',
        path: () => path.join(root, 'archives'),
        message: /contains the source "photos"/,
      },
      {
        label: 'a symlink that resolves inside another source',
        name: 'case-13',
        path: () => path.join(root, 'links', 'into-photos'),
        message: /inside the source "photos"/,
      },
      {
        label: 'a relative symlink that resolves inside another source',
        name: 'case-14',
        path: () => path.join(root, 'links', 'relative-into-photos'),
        message: /inside the source "photos"/,
      },
      {
        label: 'a symlink that resolves to a folder containing another source',
        name: 'case-15',
        path: () => path.join(root, 'links', 'to-archives'),
        message: /contains the source "photos"/,
      },
      {
        label: 'a `..` path that resolves inside another source',
        name: 'case-16',
        // Lexically this is under videos/; canonically it is photos/2019.
        path: () => `${path.join(root, 'archives', 'videos')}/../photos/2019`,
        message: /inside the source "photos"/,
      },
      {
        label: 'a `..` through a symlink that resolves inside another source',
        name: 'case-17',
        // links/to-scans/.. is archives/ physically (links/ lexically): it contains "photos".
        path: () => `${path.join(root, 'links', 'to-scans')}/../photos`,
        message: /inside the source "photos"/,
      },
      {
        label: 'a duplicate name',
        name: 'photos',
        path: () => path.join(root, 'archives', 'videos'),
        message: /source named "photos" already exists/,
      },
      {
        label: 'an invalid name',
        name: 'my photos/2019',
        path: () => path.join(root, 'archives', 'videos'),
        message: /invalid source name/,
      },
    ];

    for (const { label, name, path: where, message } of cases) {
      it(label, async () => {
        const sourcesBefore = await runCliJson<SourceJson[]>(['source', 'list'], { home });
        const result = await runCli(['source', 'add', name, where()], { home });
        expect(result.code, result.stderr).toBe(2);
        expect(result.stderr).toMatch(message);
        expect(result.stderr).not.toMatch(/\n\s+at /);
        expect(await runCliJson<SourceJson[]>(['source', 'list'], { home })).toEqual(sourcesBefore);
      });
    }
  });

  describe('source add stores the canonical path', () => {
    it('resolves symlinks, `..` and relative paths before storing', async () => {
      const viaSymlink = await runCliJson<SourceJson>(
        ['source', 'add', 'scans', `${path.join(root, 'links', 'to-scans')}/./`],
        { home },
      );
      expect(viaSymlink.path).toBe(path.join(root, 'archives', 'scans'));

      const viaDots = await runCliJson<SourceJson>(
        ['source', 'add', 'videos', `${path.join(root, 'archives', 'photos')}/../videos`],
        { home },
      );
      expect(viaDots.path).toBe(path.join(root, 'archives', 'videos'));

      const relative = await runCliJson<SourceJson>(['source', 'add', 'phone', 'archives/phone'], {
        home,
        cwd: root,
      });
      expect(relative.path).toBe(path.join(root, 'archives', 'phone'));

      const list = await runCliJson<SourceJson[]>(['source', 'list'], { home });
      expect(list.map((s) => [s.name, s.path])).toEqual([
        ['phone', path.join(root, 'archives', 'phone')],
        ['photos', path.join(root, 'archives', 'photos')],
        ['scans', path.join(root, 'archives', 'scans')],
        ['videos', path.join(root, 'archives', 'videos')],
      ]);

      // The human output says what happened and what to do next.
      fs.mkdirSync(path.join(root, 'archives', 'more'));
      const human = await runCli(['source', 'add', 'more', path.join(root, 'archives', 'more')], { home });
      expect(human.code).toBe(0);
      expect(human.stdout).toMatch(/Added source "more"/);
    });
  });
});
