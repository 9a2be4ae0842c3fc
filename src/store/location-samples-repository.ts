import { sql } from 'kysely';
import type { Db } from './database.js';

export interface SampledLocation {
  path: string;
  assetId: string;
  size: number;
}

/**
 * A few present files of a source, picked at random (a mapping that shows the right files at the top
 * but another tree below is caught as easily as one that shows nothing), smallest first among the pick
 * so that checking them reads little. The asset id is the file's SHA-256.
 */
export async function sampleLocations(db: Db, sourceId: number, count: number): Promise<SampledLocation[]> {
  const picked = await db
    .selectFrom('locations')
    .select(['path', 'asset_id', 'size'])
    .where('source_id', '=', sourceId)
    .where('status', '=', 'present')
    .orderBy(sql`random()`)
    .limit(count)
    .execute();
  return picked
    .map((row) => ({ path: row.path, assetId: row.asset_id, size: Number(row.size) }))
    .sort((a, b) => a.size - b.size);
}
