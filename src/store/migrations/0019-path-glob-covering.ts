import { sql, type Kysely } from 'kysely';
import { dialectOf } from '../dialect.js';
import type { Database } from '../schema.js';

/**
 * A path glob's range read from the index alone (issue 17). 0014's locations_path_lower (lower(path))
 * gave the range, but each location in it was then read from the table for its asset id: a year's folder
 * of a million-asset archive is 40,000 table reads before a page. locations_path_asset (lower(path),
 * source_id, asset_id) covers the listing's subquery (the glob is tested on the indexed lowered path, the
 * source on its column), and replaces the older index: one b-tree written per file, as before.
 */
export async function up(raw: Kysely<unknown>): Promise<void> {
  const db = raw as unknown as Kysely<Database>;
  // Byte order on both, as 0014's: SQLite compares text with memcmp; PostgreSQL needs the "C" collation.
  const lowered = dialectOf(db).name === 'sqlite' ? sql`lower(path)` : sql`lower(path) collate "C"`;
  await sql`create index locations_path_asset on locations (${lowered}, source_id, asset_id)`.execute(db);
  await sql`drop index locations_path_lower`.execute(db);
}
