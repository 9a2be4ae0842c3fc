import { sql, type Kysely } from 'kysely';
import { dialectOf } from '../dialect.js';
import type { Database } from '../schema.js';

/**
 * PostgreSQL: the work-item queue vacuumed and analyzed after 1 % of its rows changed, not the default
 * 20 %. Every claim and completion rewrites an item's row under a new `status`, an indexed column, so
 * each leaves a dead entry in `work_items_claim_order`; a claim's index scan starts at the run's pending
 * items with the lowest order key, which is exactly where the dead entries of the items already taken
 * lie. Measured on a 400,000-item run with 380,000 of them done and no vacuum yet: 15-205 ms per claim
 * against 0.8 ms. At 20 % of a table that keeps every earlier run's items, vacuum would wait for hundreds
 * of thousands of such entries. SQLite rewrites its b-tree in place and needs nothing.
 */
export async function up(raw: Kysely<unknown>): Promise<void> {
  const db = raw as unknown as Kysely<Database>;
  if (dialectOf(db).name !== 'postgres') return;
  await sql`alter table work_items set (
    autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000,
    autovacuum_analyze_scale_factor = 0.01, autovacuum_analyze_threshold = 1000)`.execute(db);
}
