import { sql, type Kysely } from 'kysely';

// Landed: never edit this file; add a new numbered migration instead.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('meta')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('sources')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('path', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('assets')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('size', 'integer', (c) => c.notNull())
    .addColumn('media_type', 'text', (c) =>
      c.notNull().check(sql`media_type in ('image', 'video', 'sidecar', 'other')`),
    )
    .addColumn('mime', 'text')
    .addColumn('first_seen_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('assets_media_type').on('assets').column('media_type').execute();

  await db.schema
    .createTable('scans')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('source_id', 'integer', (c) => c.notNull().references('sources.id'))
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('finished_at', 'text')
    .addColumn('summary_json', 'text')
    .execute();

  await db.schema
    .createTable('locations')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('source_id', 'integer', (c) => c.notNull().references('sources.id'))
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('asset_id', 'text', (c) => c.notNull().references('assets.id'))
    .addColumn('size', 'integer', (c) => c.notNull())
    // Nanoseconds and inode numbers as decimal text: they overflow a double.
    .addColumn('mtime_ns', 'text', (c) => c.notNull())
    .addColumn('ctime_ns', 'text', (c) => c.notNull())
    .addColumn('inode', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('present', 'missing')`))
    .addColumn('first_seen_at', 'text', (c) => c.notNull())
    .addColumn('first_scan_id', 'integer', (c) => c.notNull().references('scans.id'))
    .addColumn('last_seen_at', 'text', (c) => c.notNull())
    .addColumn('missing_since', 'text')
    .addUniqueConstraint('locations_source_path', ['source_id', 'path'])
    .execute();
  await db.schema.createIndex('locations_asset').on('locations').column('asset_id').execute();
}
