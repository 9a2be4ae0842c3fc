import type { Db } from './database.js';
import type { MediaType } from './schema.js';

export interface SiblingRow {
  asset_id: string;
  path: string;
  media_type: MediaType;
  mime: string | null;
}

/** Present picture and video locations of a source (by name) at exactly these paths. */
export async function mediaOfSourceAt(
  db: Db,
  source: string,
  paths: readonly string[],
): Promise<SiblingRow[]> {
  const found: SiblingRow[] = [];
  for (let i = 0; i < paths.length; i += 500) {
    found.push(
      ...(await db
        .selectFrom('locations')
        .innerJoin('sources', 'sources.id', 'locations.source_id')
        .innerJoin('assets', 'assets.id', 'locations.asset_id')
        .select(['locations.asset_id', 'locations.path', 'assets.media_type', 'assets.mime'])
        .where('sources.name', '=', source)
        .where('locations.status', '=', 'present')
        .where('locations.path', 'in', paths.slice(i, i + 500))
        .where('assets.media_type', 'in', ['image', 'video'])
        .execute()),
    );
  }
  return found;
}
