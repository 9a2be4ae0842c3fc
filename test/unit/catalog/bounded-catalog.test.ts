import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { catalogSource, type CatalogSummary } from '../../../src/catalog/catalog-source.js';
import { makeJunkFilter } from '../../../src/catalog/junk.js';
import { addSource } from '../../../src/catalog/sources.js';
import { initHome, type Home } from '../../../src/home/home.js';
import type { SourceRow } from '../../../src/store/schema.js';
import { tempDir } from '../../helpers/cli.js';
import { describeEachDialect } from '../../helpers/postgres.js';

/**
 * The catalog reconciles folder by folder and in batches (issue 17), against the database rather than a
 * map of every location: here with batches of 2 files on an archive of 7, so no batch and no folder sees
 * both ends of a move, and moves must still be found across folders, before and after in walk order.
 */

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

const FILES: Record<string, string> = {
  '2023/x/d.jpg': 'bytes of d',
  '2023/x/e.jpg': 'bytes of e',
  '2023/y/f.jpg': 'bytes of f',
  '2024/trip/a.jpg': 'bytes of a',
  '2024/trip/b.jpg': 'bytes of b',
  '2024/trip/c.jpg': 'bytes of c',
  'top.jpg': 'bytes of top',
};

describeEachDialect('a catalog in batches smaller than the archive', (dialect) => {
  let home: Home;
  let source: SourceRow;
  let archive: string;
  const at = (rel: string) => path.join(archive, ...rel.split('/'));
  const scan = (day: number): Promise<CatalogSummary> =>
    catalogSource(home.db, source, {
      isJunk: makeJunkFilter(),
      hashConcurrency: 2,
      batchSize: 2,
      now: () => new Date(Date.UTC(2026, 0, day)),
    });
  const locations = async () =>
    (
      await home.db
        .selectFrom('locations')
        .select(['path', 'status', 'asset_id', 'first_seen_at', 'dir'])
        .orderBy('path')
        .execute()
    ).map((row) => ({ ...row, first_seen_at: String(row.first_seen_at).slice(0, 10) }));

  it('finds moves across folders, a deleted folder, and a folder that came back', async () => {
    const { dir, cleanup } = tempDir('archivist-batches-');
    cleanups.push(cleanup);
    archive = path.join(dir, 'archive');
    for (const [rel, text] of Object.entries(FILES)) {
      fs.mkdirSync(path.dirname(at(rel)), { recursive: true });
      fs.writeFileSync(at(rel), text);
    }
    ({ home } = await initHome(path.join(dir, 'home'), { databaseUrl: await dialect.newDatabase() }));
    cleanups.push(() => void home.close());
    source = await addSource(home, 'archive', archive);

    const first = await scan(1);
    expect(first).toMatchObject({ scanned: 7, new: 7, moved: 0, missing: 0 });
    const before = await locations();
    expect(before.find((l) => l.path === '2024/trip/a.jpg')?.dir).toBe('2024/trip');
    expect(before.find((l) => l.path === 'top.jpg')?.dir).toBe('');
    const assetOf = (rel: string) => before.find((l) => l.path === rel)!.asset_id;

    // A rename into a folder walked before the old one (same inode: not read again), a copy-and-delete
    // into a folder walked after it (a new inode: hashed, then paired by content), and a whole folder
    // deleted, one of its files having moved to another folder under another name.
    fs.mkdirSync(at('2022/early'), { recursive: true });
    fs.renameSync(at('2024/trip/b.jpg'), at('2022/early/b.jpg'));
    fs.mkdirSync(at('2025/later'), { recursive: true });
    fs.copyFileSync(at('2023/y/f.jpg'), at('2025/later/f.jpg'));
    fs.rmSync(at('2023/y/f.jpg'));
    fs.renameSync(at('2023/x/d.jpg'), at('2024/trip/d-renamed.jpg'));
    fs.rmSync(at('2023/x'), { recursive: true });

    const second = await scan(2);
    expect(second).toMatchObject({
      scanned: 6,
      new: 0,
      moved: 3,
      missing: 1,
      missingTotal: 1,
      unchanged: 3,
      hashed: 1,
    });
    const after = await locations();
    expect(after.map((l) => [l.path, l.status])).toEqual([
      ['2022/early/b.jpg', 'present'],
      ['2023/x/e.jpg', 'missing'],
      ['2024/trip/a.jpg', 'present'],
      ['2024/trip/c.jpg', 'present'],
      ['2024/trip/d-renamed.jpg', 'present'],
      ['2025/later/f.jpg', 'present'],
      ['top.jpg', 'present'],
    ]);
    // A moved file is the same asset, in the archive since it was first seen.
    for (const [from, to] of [
      ['2024/trip/b.jpg', '2022/early/b.jpg'],
      ['2023/y/f.jpg', '2025/later/f.jpg'],
      ['2023/x/d.jpg', '2024/trip/d-renamed.jpg'],
    ] as const) {
      const moved = after.find((l) => l.path === to)!;
      expect(moved.asset_id).toBe(assetOf(from));
      expect(moved.first_seen_at).toBe('2026-01-01');
    }

    // The deleted folder comes back with its file: restored at the same path, nothing new.
    fs.mkdirSync(at('2023/x'), { recursive: true });
    fs.writeFileSync(at('2023/x/e.jpg'), FILES['2023/x/e.jpg']!);
    const third = await scan(3);
    expect(third).toMatchObject({ new: 0, moved: 0, missing: 0, missingTotal: 0, restored: 1 });
    // And an unchanged re-scan reads no file at all.
    expect(await scan(4)).toMatchObject({ scanned: 7, unchanged: 7, hashed: 0, missing: 0, moved: 0 });
  });
});
