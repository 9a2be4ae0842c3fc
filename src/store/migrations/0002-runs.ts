import { sql, type Kysely } from 'kysely';

// Landed: never edit this file; add a new numbered migration instead.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('collections')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('filters_json', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('runs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('pipeline_name', 'text', (c) => c.notNull())
    .addColumn('pipeline_version', 'integer', (c) => c.notNull())
    .addColumn('params_json', 'text', (c) => c.notNull())
    .addColumn('tool_versions_json', 'text', (c) => c.notNull())
    .addColumn('collection_name', 'text')
    .addColumn('scope_json', 'text', (c) => c.notNull())
    .addColumn('policy', 'text', (c) => c.notNull().check(sql`policy in ('sandbox', 'production')`))
    .addColumn('min_free_bytes', 'integer', (c) => c.notNull())
    .addColumn('min_free_spec', 'text', (c) => c.notNull())
    .addColumn('workers', 'integer', (c) => c.notNull())
    .addColumn('max_attempts', 'integer', (c) => c.notNull())
    .addColumn('item_timeout_ms', 'integer', (c) => c.notNull())
    .addColumn('force', 'integer', (c) => c.notNull())
    .addColumn('seed', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) =>
      c
        .notNull()
        .check(
          sql`status in ('queued', 'running', 'cancelling', 'cancelled', 'paused', 'interrupted', 'completed')`,
        ),
    )
    .addColumn('status_reason', 'text')
    .addColumn('parent_run_id', 'text', (c) => c.references('runs.id'))
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text')
    .addColumn('finished_at', 'text')
    .addColumn('coordinator_pid', 'integer')
    .addColumn('coordinator_host', 'text')
    .addColumn('heartbeat_at', 'integer')
    .addColumn('stats_json', 'text')
    .execute();

  // Artifact and lineage reference each other, checked at commit (deferred): a transaction that records
  // an artifact without its lineage, or lineage without its artifact, fails as a whole.
  await db.schema
    .createTable('artifacts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('step', 'text', (c) => c.notNull())
    .addColumn('asset_id', 'text', (c) => c.notNull().references('assets.id'))
    .addColumn('run_id', 'text', (c) => c.notNull().references('runs.id'))
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('size', 'integer', (c) => c.notNull())
    .addColumn('mime', 'text', (c) => c.notNull())
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('cache_key', 'text', (c) => c.notNull())
    .addColumn('policy', 'text', (c) => c.notNull())
    .addColumn('is_current', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('expires_at', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addForeignKeyConstraint('artifacts_lineage', ['id'], 'lineage', ['artifact_id'], (fk) =>
      fk.deferrable().initiallyDeferred(),
    )
    .execute();
  await db.schema.createIndex('artifacts_asset').on('artifacts').columns(['asset_id', 'kind']).execute();
  await db.schema.createIndex('artifacts_cache_key').on('artifacts').column('cache_key').execute();
  await db.schema.createIndex('artifacts_run').on('artifacts').column('run_id').execute();

  // Lineage is its own row with every column required; with the deferred references above, an artifact
  // without it cannot be committed.
  await db.schema
    .createTable('lineage')
    .addColumn('artifact_id', 'text', (c) => c.primaryKey())
    .addColumn('run_id', 'text', (c) => c.notNull().references('runs.id'))
    .addColumn('pipeline', 'text', (c) => c.notNull())
    .addColumn('step', 'text', (c) => c.notNull())
    .addColumn('tool_name', 'text', (c) => c.notNull())
    .addColumn('tool_version', 'text', (c) => c.notNull())
    .addColumn('params_json', 'text', (c) => c.notNull())
    .addColumn('inputs_json', 'text', (c) => c.notNull())
    .addColumn('worker', 'text', (c) => c.notNull())
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('duration_ms', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addForeignKeyConstraint('lineage_artifact', ['artifact_id'], 'artifacts', ['id'], (fk) =>
      fk.deferrable().initiallyDeferred(),
    )
    .execute();

  await db.schema
    .createTable('work_items')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('run_id', 'text', (c) => c.notNull().references('runs.id'))
    .addColumn('asset_id', 'text', (c) => c.notNull().references('assets.id'))
    .addColumn('step', 'text', (c) => c.notNull())
    .addColumn('step_index', 'integer', (c) => c.notNull())
    .addColumn('order_key', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in ('pending', 'running', 'done', 'failed', 'skipped')`),
    )
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('lease_owner', 'text')
    .addColumn('lease_expires_at', 'integer')
    .addColumn('not_before', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('started_at', 'text')
    .addColumn('finished_at', 'text')
    .addColumn('duration_ms', 'integer')
    .addColumn('reason', 'text')
    .addColumn('message', 'text')
    .addColumn('stderr_tail', 'text')
    .addColumn('artifact_id', 'text', (c) => c.references('artifacts.id'))
    .addColumn('reused', 'integer', (c) => c.notNull().defaultTo(0))
    .addUniqueConstraint('work_items_run_asset_step', ['run_id', 'asset_id', 'step'])
    .execute();
  await db.schema
    .createIndex('work_items_claim')
    .on('work_items')
    .columns(['run_id', 'status', 'step_index', 'order_key'])
    .execute();
  await db.schema
    .createIndex('work_items_asset_step')
    .on('work_items')
    .columns(['asset_id', 'step', 'status'])
    .execute();
}
