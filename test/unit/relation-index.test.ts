import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { NO_FACTS, type CaptureFacts } from '../../src/catalog/capture-facts.js';
import { indexRelationsAfterMetadata, indexRelationsOfSource } from '../../src/catalog/relation-index.js';
import { initHome, type Home } from '../../src/home/home.js';
import { listCatalogedAssets } from '../../src/store/asset-facts-repository.js';
import { withWriteLock } from '../../src/store/dialect.js';
import { timePage } from '../../src/store/listing-repository.js';
import type { MediaType } from '../../src/store/schema.js';
import { tempDir } from '../helpers/cli.js';
import { describeEachDialect, type TestDialect } from '../helpers/postgres.js';

/**
 * The relation index on both databases, without media: catalog rows made by hand, metadata results
 * recorded as a completion records them (inside a write transaction), and the catalog's pass over a
 * source. A Live Photo (by content identifier), a RAW+JPEG pair (by time), a JPEG and a RAW of one name
 * whose times differ (no pair), and the grid's folded and relatives listings.
 */

const FILES: Record<string, { mediaType: MediaType; mime: string }> = {
  'iphone/IMG_1.HEIC': { mediaType: 'image', mime: 'image/heic' },
  'iphone/IMG_1.MOV': { mediaType: 'video', mime: 'video/quicktime' },
  'raw/DSC_1.NEF': { mediaType: 'image', mime: 'image/x-nikon-nef' },
  'raw/DSC_1.JPG': { mediaType: 'image', mime: 'image/jpeg' },
  'raw/DSC_2.NEF': { mediaType: 'image', mime: 'image/x-nikon-nef' },
  'raw/DSC_2.JPG': { mediaType: 'image', mime: 'image/jpeg' },
  'other/A.JPG': { mediaType: 'image', mime: 'image/jpeg' },
};
const id = (rel: string) =>
  rel
    .replace(/[^a-z0-9]/gi, '')
    .toLowerCase()
    .padEnd(64, '0');

function facts(local: string, contentIdentifier: string | null = null): CaptureFacts {
  return { ...NO_FACTS, takenAtLocal: local, takenAt: null, hasLocalTime: true, contentIdentifier };
}

describeEachDialect('the relation index', (dialect: TestDialect) => {
  let home: Home;
  let cleanup: () => void;
  let sourceId: number;

  beforeAll(async () => {
    const dir = tempDir('archivist-relation-index-');
    cleanup = dir.cleanup;
    fs.mkdirSync(path.join(dir.dir, 'archive'));
    ({ home } = await initHome(path.join(dir.dir, 'home'), { databaseUrl: await dialect.newDatabase() }));
    const now = new Date().toISOString();
    const source = await home.db
      .insertInto('sources')
      .values({ name: 's', path: path.join(dir.dir, 'archive'), created_at: now })
      .returning('id')
      .executeTakeFirstOrThrow();
    sourceId = Number(source.id);
    const scan = await home.db
      .insertInto('scans')
      .values({ source_id: sourceId, started_at: now, finished_at: now, summary_json: null })
      .returning('id')
      .executeTakeFirstOrThrow();
    for (const [rel, f] of Object.entries(FILES)) {
      await home.db
        .insertInto('assets')
        .values({ id: id(rel), size: 1, media_type: f.mediaType, mime: f.mime, first_seen_at: now })
        .execute();
      await home.db
        .insertInto('locations')
        .values({
          source_id: sourceId,
          path: rel,
          dir: path.posix.dirname(rel),
          asset_id: id(rel),
          size: 1,
          mtime_ns: '1000000000000000000',
          ctime_ns: '1000000000000000000',
          inode: String(rel.length),
          status: 'present',
          first_seen_at: now,
          first_scan_id: Number(scan.id),
          last_seen_at: now,
          missing_since: null,
        })
        .execute();
    }
    await withWriteLock(home.db, (trx) =>
      listCatalogedAssets(
        trx,
        Object.entries(FILES).map(([rel, f]) => ({ assetId: id(rel), mediaType: f.mediaType, mtimeMs: 1 })),
      ),
    );
  }, 120_000);
  afterAll(async () => {
    await home?.close();
    cleanup?.();
  });

  const rows = async () =>
    (
      await home.db
        .selectFrom('asset_relations')
        .select(['asset_id', 'related_asset_id', 'relation', 'by'])
        .orderBy('asset_id')
        .orderBy('related_asset_id')
        .execute()
    ).map((r) => `${r.asset_id.slice(0, 12)} ${r.relation} ${r.related_asset_id.slice(0, 12)} ${r.by}`);

  const record = (rel: string, f: CaptureFacts) =>
    withWriteLock(home.db, (trx) =>
      indexRelationsAfterMetadata(trx, [
        { assetId: id(rel), artifactId: `art-${id(rel).slice(0, 8)}`, facts: f, current: true },
      ]),
    );

  // In the order a run might record them; the HEIC's keys alone pair nothing yet.
  const arrivals = (): [string, CaptureFacts][] => [
    ['iphone/IMG_1.HEIC', facts('2021-07-04T20:30:00', 'CID-1')],
    // The video's time is 5 s off, but both carry Apple's content identifier: that decides.
    ['iphone/IMG_1.MOV', facts('2021-07-04T20:30:05', 'CID-1')],
    ['raw/DSC_1.NEF', facts('2020-01-01T10:00:00')],
    ['raw/DSC_1.JPG', facts('2020-01-01T10:00:00')],
    ['raw/DSC_2.NEF', facts('2020-01-01T11:00:00')],
    ['raw/DSC_2.JPG', facts('2020-01-01T11:00:09')],
    ['other/A.JPG', facts('2020-01-01T12:00:00')],
  ];
  const paired = () =>
    [
      `${id('iphone/IMG_1.HEIC').slice(0, 12)} live-photo-video ${id('iphone/IMG_1.MOV').slice(0, 12)} content-identifier`,
      `${id('iphone/IMG_1.MOV').slice(0, 12)} live-photo-still ${id('iphone/IMG_1.HEIC').slice(0, 12)} content-identifier`,
      `${id('raw/DSC_1.JPG').slice(0, 12)} raw-twin ${id('raw/DSC_1.NEF').slice(0, 12)} name-and-time`,
      `${id('raw/DSC_1.NEF').slice(0, 12)} jpeg-twin ${id('raw/DSC_1.JPG').slice(0, 12)} name-and-time`,
    ].sort();

  it('pairs files as their metadata arrives, inside the completion’s transaction', async () => {
    const [first, ...rest] = arrivals();
    await record(...first!);
    expect(await rows()).toEqual([]); // the video has no metadata yet
    for (const arrival of rest) await record(...arrival);
    expect(await rows()).toEqual(paired());
  });

  it('pairs the same when both halves of a pair are in one completion batch', async () => {
    await home.db.deleteFrom('asset_relations').execute();
    await home.db.deleteFrom('pairing_keys').execute();
    await withWriteLock(home.db, (trx) =>
      indexRelationsAfterMetadata(
        trx,
        arrivals().map(([rel, f]) => ({
          assetId: id(rel),
          artifactId: `art-${id(rel).slice(0, 8)}`,
          facts: f,
          current: true,
        })),
      ),
    );
    expect(await rows()).toEqual(paired());
  });

  it('folds pairs and lists relatives in the grid’s keyset listing', async () => {
    const listed = async (filters: { foldPairs?: boolean; relatives?: boolean }) =>
      (await timePage(home.db, filters, { sort: 'newest', limit: 100 })).rows.map((r) => r.id).sort();
    expect(await listed({})).toHaveLength(7);
    expect(await listed({ foldPairs: true })).toEqual(
      Object.keys(FILES)
        .filter((rel) => rel !== 'iphone/IMG_1.MOV' && rel !== 'raw/DSC_1.NEF')
        .map(id)
        .sort(),
    );
    expect(await listed({ relatives: true, foldPairs: true })).toEqual(
      [id('iphone/IMG_1.HEIC'), id('raw/DSC_1.JPG')].sort(),
    );
  });

  it('follows the catalog: a video gone unpairs its still, and pairs it again when it is back', async () => {
    await home.db
      .updateTable('locations')
      .set({ status: 'missing' })
      .where('path', '=', 'iphone/IMG_1.MOV')
      .execute();
    await indexRelationsOfSource(home.db, sourceId);
    expect((await rows()).filter((r) => r.includes('live-photo'))).toEqual([]);
    await home.db
      .updateTable('locations')
      .set({ status: 'present' })
      .where('path', '=', 'iphone/IMG_1.MOV')
      .execute();
    await indexRelationsOfSource(home.db, sourceId);
    expect((await rows()).filter((r) => r.includes('live-photo'))).toHaveLength(2);
  });
});
