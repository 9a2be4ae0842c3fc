import { sql } from 'kysely';
import { afterEach, expect, it } from 'vitest';
import { initHome, type Home } from '../../src/home/home.js';
import { makeCurrentAll, recordArtifacts } from '../../src/store/artifacts-repository.js';
import { tempDir } from '../helpers/cli.js';
import { describeEachDialect } from '../helpers/postgres.js';

// On PostgreSQL the rule is a deferred constraint of its own (schema-translation.ts), so both are proven.
describeEachDialect('lineage is mandatory in the schema itself', (dialect) => {
  let home: Home | undefined;
  let cleanup = () => {};
  afterEach(async () => {
    await home?.close();
    cleanup();
  });

  async function homeWithRun(): Promise<Home> {
    const temp = tempDir();
    cleanup = temp.cleanup;
    home = (await initHome(temp.dir, { databaseUrl: await dialect.newDatabase() })).home;
    const now = new Date().toISOString();
    await home.db
      .insertInto('assets')
      .values({ id: 'a'.repeat(64), size: 1, media_type: 'image', mime: null, first_seen_at: now })
      .execute();
    await home.db
      .insertInto('runs')
      .values({
        id: 'r-test',
        pipeline_name: 'p',
        pipeline_version: 1,
        params_json: '{}',
        tool_versions_json: '{}',
        collection_name: null,
        scope_json: '{}',
        policy: 'sandbox',
        min_free_bytes: 0,
        min_free_spec: '0',
        workers: 1,
        max_attempts: 3,
        item_timeout_ms: 1000,
        force: 0,
        seed: 0,
        status: 'running',
        status_reason: null,
        parent_run_id: null,
        host: 'h',
        created_at: now,
      })
      .execute();
    return home;
  }

  const artifact = {
    id: 'a-1',
    kind: 'thumbnail',
    step: 'thumbnail',
    asset_id: 'a'.repeat(64),
    run_id: 'r-test',
    sha256: 'b'.repeat(64),
    size: 1,
    mime: 'image/webp',
    path: 'bb/bb/x.webp',
    cache_key: 'k',
    policy: 'sandbox' as const,
    is_current: 0,
    expires_at: null,
    created_at: new Date().toISOString(),
  };

  it('refuses to commit an artifact row without its lineage row', async () => {
    const h = await homeWithRun();
    await expect(
      h.db.transaction().execute(async (trx) => trx.insertInto('artifacts').values(artifact).execute()),
    ).rejects.toThrow(/foreign key/i);
    const count = await h.db
      .selectFrom('artifacts')
      .select(sql<number>`count(*)`.as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(0);
  });

  it('commits an artifact together with its lineage', async () => {
    const h = await homeWithRun();
    await h.db.transaction().execute(async (trx) => {
      await trx.insertInto('artifacts').values(artifact).execute();
      await trx
        .insertInto('lineage')
        .values({
          artifact_id: 'a-1',
          run_id: 'r-test',
          pipeline: 'p@1',
          step: 'thumbnail',
          tool_name: 'sharp',
          tool_version: '0.34',
          params_json: '{}',
          inputs_json: '[]',
          worker: 'w',
          host: 'h',
          duration_ms: 1,
          created_at: new Date().toISOString(),
        })
        .execute();
    });
    const count = await h.db
      .selectFrom('artifacts')
      .select(sql<number>`count(*)`.as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(1);
  });

  it('records a batch of artifacts with their lineage, and makes one current per asset and kind', async () => {
    const h = await homeWithRun();
    const other = 'c'.repeat(64);
    await h.db
      .insertInto('assets')
      .values({ id: other, size: 1, media_type: 'image', mime: null, first_seen_at: artifact.created_at })
      .execute();
    const made = (id: string, assetId: string, kind: string) => ({
      artifact: {
        ...{ id, kind, step: kind, assetId, runId: 'r-test', sha256: 'b'.repeat(64), size: 1 },
        ...{ mime: 'x/y', path: `bb/bb/${id}`, cacheKey: id, policy: 'production' as const, expiresAt: null },
      },
      lineage: {
        ...{ runId: 'r-test', pipeline: { name: 'p', version: 1 }, step: kind, decoder: null },
        ...{ tool: { name: 't', version: '1' }, params: {}, inputs: [], worker: 'w', host: 'h' },
        ...{ durationMs: 1, createdAt: artifact.created_at },
      },
    });
    const current = async () =>
      (
        await h.db.selectFrom('artifacts').select('id').where('is_current', '=', 1).orderBy('id').execute()
      ).map((r) => r.id);
    await h.db.transaction().execute(async (trx) => {
      await recordArtifacts(trx, [
        made('a-thumb-old', artifact.asset_id, 'thumbnail'),
        made('a-meta-old', artifact.asset_id, 'metadata'),
        made('c-thumb-old', other, 'thumbnail'),
      ]);
      await makeCurrentAll(trx, [
        { artifactId: 'a-thumb-old', assetId: artifact.asset_id, kind: 'thumbnail' },
        { artifactId: 'a-meta-old', assetId: artifact.asset_id, kind: 'metadata' },
        { artifactId: 'c-thumb-old', assetId: other, kind: 'thumbnail' },
      ]);
    });
    expect(await current()).toEqual(['a-meta-old', 'a-thumb-old', 'c-thumb-old']);
    const lineage = await h.db.selectFrom('lineage').select('artifact_id').execute();
    expect(lineage).toHaveLength(3);
    await h.db.transaction().execute(async (trx) => {
      await recordArtifacts(trx, [
        made('a-thumb-new', artifact.asset_id, 'thumbnail'),
        made('c-thumb-1', other, 'thumbnail'),
        made('c-thumb-2', other, 'thumbnail'),
      ]);
      // Two for one pair in one batch: the later wins; the asset's metadata is not touched.
      await makeCurrentAll(trx, [
        { artifactId: 'a-thumb-new', assetId: artifact.asset_id, kind: 'thumbnail' },
        { artifactId: 'c-thumb-1', assetId: other, kind: 'thumbnail' },
        { artifactId: 'c-thumb-2', assetId: other, kind: 'thumbnail' },
      ]);
    });
    expect(await current()).toEqual(['a-meta-old', 'a-thumb-new', 'c-thumb-2']);
  });
});
