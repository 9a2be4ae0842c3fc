import type { Kysely } from 'kysely';

/**
 * A run's settings that decide what its results are belong to the run, not to whichever host works on
 * it (issue 12): how long a sandbox result lives was read from each worker's own config, so two hosts
 * with different configs gave one run's artifacts different expiry dates. Null for runs made before
 * this migration: their workers keep using their home's config, as they did.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('runs').addColumn('sandbox_retention_days', 'double precision').execute();
}
