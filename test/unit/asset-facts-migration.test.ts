import fs from 'node:fs';
import path from 'node:path';
import { Migrator } from 'kysely';
import { afterEach, expect, it } from 'vitest';
import { migrate, openDatabase, type OpenDatabase } from '../../src/store/database.js';
import { migrationProvider } from '../../src/store/migrations/index.js';
import { createSqlite } from '../../src/store/sqlite/sqlite-database.js';
import { tempDir } from '../helpers/cli.js';
import { describeEachDialect } from '../helpers/postgres.js';

/**
 * Migrations 0010 and 0011 on a home made before them (issue 17): every location gets its folder, and
 * every asset a facts row, placed by its current metadata artifact (read from the store) when it has
 * one, else by its earliest file time; an asset without a location is not listed.
 */

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

describeEachDialect('migrating a home made before the facts table', (dialect) => {
  it('fills locations.dir and asset_facts from the catalog and the current metadata', async () => {
    const { dir, cleanup } = tempDir('archivist-0011-');
    cleanups.push(cleanup);
    const artifacts = path.join(dir, 'artifacts');
    const url = await dialect.newDatabase();
    if (!url) createSqlite(path.join(dir, 'archivist.db'));
    const open: OpenDatabase = await openDatabase(
      url ? { kind: 'postgres', url } : { kind: 'sqlite', file: path.join(dir, 'archivist.db') },
    );
    cleanups.push(() => void open.close());
    const migrator = new Migrator({
      db: open.db,
      provider: migrationProvider(open.kind),
      disableTransactions: open.kind === 'sqlite',
    });
    expect((await migrator.migrateTo('0006-lineage-decoder')).error).toBeUndefined();

    const db = open.db;
    const now = '2026-01-01T00:00:00.000Z';
    const source = await db
      .insertInto('sources')
      .values({ name: 'a', path: '/archive', created_at: now })
      .returning('id')
      .executeTakeFirstOrThrow();
    const scan = await db
      .insertInto('scans')
      .values({ source_id: source.id, started_at: now, finished_at: now, summary_json: '{}' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const asset = (id: string, media_type: 'image' | 'video') => ({
      id,
      size: 1,
      media_type,
      mime: null,
      first_seen_at: now,
    });
    await db
      .insertInto('assets')
      .values([asset('a1', 'image'), asset('a2', 'video'), asset('a3', 'image')])
      .execute();
    const location = (assetId: string, rel: string, mtimeMs: number) => ({
      source_id: source.id,
      path: rel,
      asset_id: assetId,
      size: 1,
      mtime_ns: String(BigInt(mtimeMs) * 1_000_000n),
      ctime_ns: '0',
      inode: rel,
      status: 'present' as const,
      first_seen_at: now,
      first_scan_id: scan.id,
      last_seen_at: now,
      missing_since: null,
    });
    await db
      .insertInto('locations')
      .values([
        location('a1', '2019/trip/one.jpg', Date.UTC(2020, 4, 1)),
        location('a2', 'clip.mov', Date.UTC(2015, 1, 3)),
        location('a2', 'copies/clip.mov', Date.UTC(2014, 6, 9)),
      ])
      .execute();
    // a1's current metadata artifact, as a run left it: the row, its lineage, and the file in the store.
    await db
      .insertInto('runs')
      .values({
        id: 'r1',
        pipeline_name: 'core',
        pipeline_version: 2,
        params_json: '{}',
        tool_versions_json: '{}',
        collection_name: null,
        scope_json: '{}',
        policy: 'production',
        min_free_bytes: 0,
        min_free_spec: '0',
        workers: 1,
        max_attempts: 1,
        item_timeout_ms: 1,
        force: 0,
        seed: 1,
        status: 'completed',
        host: 'h',
        created_at: now,
      })
      .execute();
    const metadataPath = 'ab/cd/abcd.json';
    fs.mkdirSync(path.join(artifacts, 'ab', 'cd'), { recursive: true });
    fs.writeFileSync(
      path.join(artifacts, metadataPath),
      JSON.stringify({
        takenAtLocal: '2019-06-30T23:30:00',
        takenAt: '2019-06-30T21:30:00Z',
        timeZone: 'Europe/Zurich',
        timeZoneSource: 'gps',
        make: 'Canon',
        model: 'Canon EOS 40D',
      }),
    );
    await db.transaction().execute(async (trx) => {
      await trx
        .insertInto('lineage')
        .values({
          artifact_id: 'm1',
          run_id: 'r1',
          pipeline: 'core@2',
          step: 'metadata',
          tool_name: 'exiftool',
          tool_version: '13',
          decoder: null,
          params_json: '{}',
          inputs_json: '[]',
          worker: 'w',
          host: 'h',
          duration_ms: 1,
          created_at: now,
        })
        .execute();
      await trx
        .insertInto('artifacts')
        .values({
          id: 'm1',
          kind: 'metadata',
          step: 'metadata',
          asset_id: 'a1',
          run_id: 'r1',
          sha256: 'abcd',
          size: 1,
          mime: 'application/json',
          path: metadataPath,
          cache_key: 'k',
          policy: 'production',
          is_current: 1,
          expires_at: null,
          created_at: now,
        })
        .execute();
    });

    await migrate(open, dir, { artifactsDir: artifacts });

    const dirs = await db.selectFrom('locations').select(['path', 'dir']).orderBy('path').execute();
    expect(dirs).toEqual([
      { path: '2019/trip/one.jpg', dir: '2019/trip' },
      { path: 'clip.mov', dir: '' },
      { path: 'copies/clip.mov', dir: 'copies' },
    ]);
    const facts = await db
      .selectFrom('asset_facts')
      .select([
        'asset_id',
        'listed',
        'media_type',
        'sort_ms',
        'month',
        'taken_day',
        'camera',
        'time_zone_source',
        'metadata_artifact_id',
      ])
      .orderBy('asset_id')
      .execute();
    expect(facts.map((f) => ({ ...f, listed: Number(f.listed), sort_ms: Number(f.sort_ms) }))).toEqual([
      // The wall-clock time where it was taken, not the instant, and not the file time.
      {
        asset_id: 'a1',
        listed: 1,
        media_type: 'image',
        sort_ms: Date.UTC(2019, 5, 30, 23, 30),
        month: '2019-06',
        taken_day: '2019-06-30',
        camera: 'Canon EOS 40D',
        time_zone_source: 'gps',
        metadata_artifact_id: 'm1',
      },
      // No metadata: the earliest file time of its locations.
      {
        asset_id: 'a2',
        listed: 1,
        media_type: 'video',
        sort_ms: Date.UTC(2014, 6, 9),
        month: '2014-07',
        taken_day: null,
        camera: null,
        time_zone_source: null,
        metadata_artifact_id: null,
      },
      {
        asset_id: 'a3',
        listed: 0,
        media_type: 'image',
        sort_ms: 0,
        month: '1970-01',
        taken_day: null,
        camera: null,
        time_zone_source: null,
        metadata_artifact_id: null,
      },
    ]);
  });
});
