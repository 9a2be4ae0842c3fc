import { metadataOf, shownArtifact, toArtifactJson, type ArtifactJson } from '../artifacts/artifact-json.js';
import type { HomeLayout } from '../home/home-path.js';
import { artifactsOfAsset } from '../store/artifacts-repository.js';
import type { AssetWithLocations } from '../store/assets-repository.js';
import type { Db } from '../store/database.js';
import { mediaOfSourceAt } from '../store/related-repository.js';
import {
  mayPair,
  pairingKeysOfMetadata,
  relationBetween,
  siblingPaths,
  type Relation,
} from './relation-rules.js';

/**
 * The files that belong with an asset (PRODUCT section 4b), decided when asked from the catalog (same
 * folder, same name) and the metadata artifacts (content identifier, capture time), by the rules of
 * relation-rules.ts (the relation index, relation-index.ts, keeps the same answers for the grid):
 * - a Live Photo: a still and a video of one stem whose Apple content identifiers match, or, when either
 *   lacks one, whose capture times lie within a second (`live-photo-video` / `live-photo-still`);
 * - RAW+JPEG twins: a RAW and a JPEG of one stem with the same capture time (`raw-twin` / `jpeg-twin`);
 * - a motion photo: its extracted video artifact (`motion-video-of`: artifact `artifactId` is the motion
 *   video of asset `assetId`, the picture itself).
 */

export type { Relation };

export interface RelatedJson {
  assetId: string;
  relation: Relation;
  /** Where the relative lies (source-relative), or the artifact for `motion-video-of`. */
  path?: string;
  artifactId?: string;
  /** How the pair was recognised: `content-identifier`, `name-and-time`. */
  by?: string;
}

export async function relatedAssets(
  db: Db,
  layout: HomeLayout,
  asset: AssetWithLocations,
  metadata: unknown,
  artifacts: readonly ArtifactJson[],
): Promise<RelatedJson[]> {
  const related: RelatedJson[] = [];
  const motion = shownArtifact(artifacts, 'motion-video');
  if (motion) related.push({ assetId: asset.id, relation: 'motion-video-of', artifactId: motion.id });
  if (asset.media_type !== 'image' && asset.media_type !== 'video') return related;

  const keys = pairingKeysOfMetadata(metadata);
  const seen = new Set<string>([asset.id]);
  for (const location of asset.locations.filter((l) => l.status === 'present')) {
    const siblings = await mediaOfSourceAt(db, location.source, siblingPaths(location.path));
    const self = {
      assetId: asset.id,
      path: location.path,
      mediaType: asset.media_type,
      mime: asset.mime,
      keys,
    };
    for (const sibling of siblings) {
      if (seen.has(sibling.asset_id)) continue;
      const other = {
        assetId: sibling.asset_id,
        path: sibling.path,
        mediaType: sibling.media_type,
        mime: sibling.mime,
      };
      // Only a file that may be a pair needs the relative's metadata read from the store.
      if (!keys || !mayPair(self, other)) continue;
      const theirs = pairingKeysOfMetadata(
        metadataOf(
          layout,
          (await artifactsOfAsset(db, sibling.asset_id)).map((a) => toArtifactJson(layout, a)),
        ),
      );
      const relation = relationBetween(self, { ...other, keys: theirs });
      if (!relation) continue;
      seen.add(sibling.asset_id);
      related.push({ assetId: sibling.asset_id, path: sibling.path, ...relation });
    }
  }
  return related;
}
