import type { Kysely } from 'kysely';

/**
 * A worker's figures add up: what it claimed is what it finished (done, failed, skipped), gave back
 * untouched (released: claimed ahead, then the run stopped or an item took the whole allowance), or
 * lost (its lease was taken over; a late completion then counts as refused). Before, a worker of a
 * 416-item run showed 423 claimed against 304 done and 5 failed, and nothing said where the rest went.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  for (const column of ['skipped', 'released']) {
    await db.schema
      .alterTable('run_workers')
      .addColumn(column, 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
  }
}
