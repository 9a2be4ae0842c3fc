import type { Kysely } from 'kysely';

/**
 * Issue 14, hardening:
 * - runs.worker_crashes: worker deaths the run's coordinators saw, over every session of the run (a
 *   resumed run keeps counting from where the last session stopped, instead of starting at zero);
 * - artifacts(path): a sweep asks which of a few store files a row names (a file put in the store by a
 *   worker that died before its row committed is an orphan, removed at once instead of after gc's grace).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('runs')
    .addColumn('worker_crashes', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex('artifacts_path').on('artifacts').column('path').execute();
}
