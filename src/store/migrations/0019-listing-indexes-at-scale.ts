import { sql, type Kysely } from 'kysely';
import { dialectOf } from '../dialect.js';
import type { Database } from '../schema.js';

/**
 * A path glob's range read from the index alone (issue 17). 0014's locations_path_lower (lower(path))
 * gave the range, but each location in it was then read from the table for its asset id: a year's folder
 * of a million-asset archive is 40,000 table reads before a page. locations_path_asset (lower(path),
 * source_id, asset_id) covers the listing's subquery (the glob is tested on the indexed lowered path, the
 * source on its column), and replaces the older index: one b-tree written per file, as before.
 *
 * asset_facts_camera_time holds only assets with a camera: the catalog's first pass wrote an entry with
 * a null camera for every file (one b-tree write per file that no query reads); `camera_key = ?` implies
 * the index's condition on both databases, so the camera listing still reads it.
 */
export async function up(raw: Kysely<unknown>): Promise<void> {
  const db = raw as unknown as Kysely<Database>;
  // Byte order on both, as 0014's: SQLite compares text with memcmp; PostgreSQL needs the "C" collation.
  const lowered = dialectOf(db).name === 'sqlite' ? sql`lower(path)` : sql`lower(path) collate "C"`;
  await sql`create index locations_path_asset on locations (${lowered}, source_id, asset_id)`.execute(db);
  await sql`drop index locations_path_lower`.execute(db);
  await sql`drop index asset_facts_camera_time`.execute(db);
  await sql`create index asset_facts_camera_time on asset_facts (listed, camera_key, sort_ms, asset_id)
    where camera_key is not null`.execute(db);
}
