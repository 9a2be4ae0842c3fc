import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';

// Landed once merged: never edit this file; add a new numbered migration instead.
/**
 * Fenced leases and the archive's identity (issue 12), written once for SQLite and PostgreSQL (`bigint`
 * is an integer on both; see postgres/schema-translation.ts):
 * - work_items.lease_epoch: bumped by every claim, so a completion, heartbeat or failure from a worker
 *   whose lease was taken over (same item, older epoch) matches no row and is refused;
 * - run_workers: every worker process that took part in a run, on any host, with what it claimed, did,
 *   failed and had refused, and its last heartbeat (the database's clock, milliseconds);
 * - meta.archive_id: the archive this database is the truth of; its artifact store carries the same id,
 *   so a home, worker or store of another archive is refused instead of mixed in;
 * - artifacts (created_at): "the newest artifact" on PostgreSQL, which has no rowid.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('work_items')
    .addColumn('lease_epoch', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .createTable('run_workers')
    .addColumn('run_id', 'text', (c) => c.notNull().references('runs.id'))
    .addColumn('worker', 'text', (c) => c.notNull())
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('claimed', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('done', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('failed', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('refused', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('first_seen_at', 'bigint', (c) => c.notNull())
    .addColumn('last_heartbeat_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('run_workers_pk', ['run_id', 'worker'])
    .execute();
  await db.schema.createIndex('artifacts_created').on('artifacts').column('created_at').execute();
  await sql`insert into meta (key, value) values ('archive_id', ${randomUUID()})`.execute(db);
}
