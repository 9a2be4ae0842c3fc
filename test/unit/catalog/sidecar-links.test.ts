import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { catalogSource } from '../../../src/catalog/catalog-source.js';
import { makeJunkFilter } from '../../../src/catalog/junk.js';
import { addSource } from '../../../src/catalog/sources.js';
import { initHome, type Home } from '../../../src/home/home.js';
import { sidecarsOfAssets } from '../../../src/store/sidecars-repository.js';
import { tempDir } from '../../helpers/cli.js';
import { makeJpeg } from '../../helpers/media.js';
import { describeEachDialect } from '../../helpers/postgres.js';

/**
 * The catalog links sidecars to their media files after every scan, on both dialects: by name, through
 * moves (the catalog deletes a moved file's old location row, which a link must never block), edits (a
 * new hash at the same location) and deletions.
 */

const homes: Home[] = [];
const cleanups: (() => void)[] = [];
afterEach(async () => {
  while (homes.length > 0) await homes.pop()!.close();
  while (cleanups.length > 0) cleanups.pop()!();
});

describeEachDialect('sidecar links', (dialect) => {
  it('follows names, moves, edits and deletions', async () => {
    const { dir, cleanup } = tempDir('archivist-sidecars-');
    cleanups.push(cleanup);
    const archive = path.join(dir, 'archive');
    const put = (rel: string, content: Buffer | string) => {
      fs.mkdirSync(path.dirname(path.join(archive, rel)), { recursive: true });
      fs.writeFileSync(path.join(archive, rel), content);
    };
    put('a/IMG_1.CR2', await makeJpeg(1));
    put('a/IMG_1.JPG', await makeJpeg(2));
    put('a/IMG_1.xmp', '<x:xmpmeta xmlns:x="adobe:ns:meta/"/>\n');
    put('b/IMG_2.jpg', await makeJpeg(3));
    put('b/IMG_2.jpg.json', '{"photoTakenTime":{"timestamp":"1"}}\n');
    put('b/metadata.json', '{"albumData":{}}\n');
    const { home } = await initHome(path.join(dir, 'home'), { databaseUrl: await dialect.newDatabase() });
    homes.push(home);
    const source = await addSource(home, 'archive', archive);
    const catalog = () => catalogSource(home.db, source, { isJunk: makeJunkFilter(), hashConcurrency: 2 });
    const assetAt = async (rel: string) =>
      (
        await home.db
          .selectFrom('locations')
          .select('asset_id')
          .where('path', '=', rel)
          .where('status', '=', 'present')
          .executeTakeFirstOrThrow()
      ).asset_id;
    const sidecarsAt = async (rel: string) =>
      (await sidecarsOfAssets(home.db, [await assetAt(rel)])).map((s) => `${s.kind} ${s.path}`);

    expect((await catalog()).sidecars).toEqual({ linked: 2, unmatched: 1, relinked: true });
    // Nothing renamed: the links stand, nothing is redone.
    expect((await catalog()).sidecars).toEqual({ linked: 2, unmatched: null, relinked: false });
    // Lightroom's stem-only XMP belongs to the RAW, not to the JPEG beside it.
    expect(await sidecarsAt('a/IMG_1.CR2')).toEqual(['xmp a/IMG_1.xmp']);
    expect(await sidecarsAt('a/IMG_1.JPG')).toEqual([]);
    expect(await sidecarsAt('b/IMG_2.jpg')).toEqual(['takeout-json b/IMG_2.jpg.json']);

    // Both moved to another folder: the catalog records the moves, the links follow.
    fs.mkdirSync(path.join(archive, 'c'));
    fs.renameSync(path.join(archive, 'b/IMG_2.jpg'), path.join(archive, 'c/IMG_2.jpg'));
    fs.renameSync(path.join(archive, 'b/IMG_2.jpg.json'), path.join(archive, 'c/IMG_2.jpg.json'));
    const moved = await catalog();
    expect(moved.moved).toBe(2);
    expect(await sidecarsAt('c/IMG_2.jpg')).toEqual(['takeout-json c/IMG_2.jpg.json']);

    // Edited: same location, new hash; deleted: no link.
    const before = (await sidecarsOfAssets(home.db, [await assetAt('a/IMG_1.CR2')]))[0]!.sha256;
    put('a/IMG_1.xmp', '<x:xmpmeta xmlns:x="adobe:ns:meta/"><!-- edited --></x:xmpmeta>\n');
    await catalog();
    const after = (await sidecarsOfAssets(home.db, [await assetAt('a/IMG_1.CR2')]))[0]!.sha256;
    expect(after).not.toBe(before);
    fs.rmSync(path.join(archive, 'c/IMG_2.jpg.json'));
    expect((await catalog()).sidecars).toEqual({ linked: 1, unmatched: 1, relinked: true });
    expect(await sidecarsAt('c/IMG_2.jpg')).toEqual([]);
    expect(await home.db.selectFrom('sidecar_links').selectAll().execute()).toHaveLength(1);
  });
});
