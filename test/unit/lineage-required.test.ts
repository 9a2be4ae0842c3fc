import { sql } from 'kysely';
import { afterEach, expect, it } from 'vitest';
import { initHome, type Home } from '../../src/home/home.js';
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
});
