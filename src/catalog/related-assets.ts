import path from 'node:path';
import { metadataOf, shownArtifact, toArtifactJson, type ArtifactJson } from '../artifacts/artifact-json.js';
import type { HomeLayout } from '../home/home-path.js';
import { artifactsOfAsset } from '../store/artifacts-repository.js';
import type { AssetWithLocations } from '../store/assets-repository.js';
import type { Db } from '../store/database.js';
import { mediaOfSourceAt, type SiblingRow } from '../store/related-repository.js';
import { isRawExtension, MEDIA_EXTENSIONS } from './media-type.js';

/**
 * The files that belong with an asset (PRODUCT section 4b), decided when asked from the catalog (same
 * folder, same name) and the metadata artifacts (content identifier, capture time), so a new run or a
 * re-catalog is reflected at once, with nothing to keep in step:
 * - a Live Photo: a still and a video of one stem whose Apple content identifiers match, or, when either
 *   lacks one, whose capture times lie within a second (`live-photo-video` / `live-photo-still`);
 * - RAW+JPEG twins: a RAW and a JPEG of one stem with the same capture time (`raw-twin` / `jpeg-twin`);
 * - a motion photo: its extracted video artifact (`motion-video-of`: artifact `artifactId` is the motion
 *   video of asset `assetId`, the picture itself).
 */

export type Relation = 'live-photo-video' | 'live-photo-still' | 'raw-twin' | 'jpeg-twin' | 'motion-video-of';

export interface RelatedJson {
  assetId: string;
  relation: Relation;
  /** Where the relative lies (source-relative), or the artifact for `motion-video-of`. */
  path?: string;
  artifactId?: string;
  /** How the pair was recognised: `content-identifier`, `name-and-time`. */
  by?: string;
}

/** Both times, as read from either metadata schema (core@1 has only `takenAt`). */
interface Times {
  instant: number | null;
  local: number | null;
  contentIdentifier: string | null;
}

function timesOf(metadata: unknown): Times | null {
  if (!metadata || typeof metadata !== 'object') return null;
  const m = metadata as Record<string, unknown>;
  const schema2 = 'takenAtLocal' in m;
  const takenAt = typeof m.takenAt === 'string' ? Date.parse(m.takenAt) : NaN;
  // core@1 wrote an unknown zone's wall clock as `…Z`: that is a wall clock, not an instant.
  const instant = Number.isFinite(takenAt) && (schema2 || m.timeZone) ? takenAt : null;
  const localText = schema2 ? m.takenAtLocal : m.timeZone ? null : m.takenAt;
  const local = typeof localText === 'string' ? Date.parse(`${localText.replace(/Z$/, '')}Z`) : NaN;
  return {
    instant,
    local: Number.isFinite(local) ? local : null,
    contentIdentifier: typeof m.contentIdentifier === 'string' ? m.contentIdentifier : null,
  };
}

/** Within a second: instants when both are known, else the wall clocks. */
function sameMoment(a: Times, b: Times): boolean {
  if (a.instant !== null && b.instant !== null) return Math.abs(a.instant - b.instant) <= 1000;
  if (a.local !== null && b.local !== null) return Math.abs(a.local - b.local) <= 1000;
  return false;
}

function isRaw(row: { path: string; mime: string | null }): boolean {
  return isRawExtension(path.posix.extname(row.path).slice(1));
}

function isJpeg(row: { mime: string | null }): boolean {
  return row.mime === 'image/jpeg';
}

function stemOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(0, dot) : name;
}

function siblingPaths(location: { path: string }): string[] {
  const dir = path.posix.dirname(location.path);
  const stem = stemOf(path.posix.basename(location.path));
  const prefix = dir === '.' ? stem : `${dir}/${stem}`;
  return MEDIA_EXTENSIONS.flatMap((ext) => [`${prefix}.${ext}`, `${prefix}.${ext.toUpperCase()}`]);
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

  const mine = timesOf(metadata);
  const self = { mime: asset.mime };
  const seen = new Set<string>([asset.id]);
  for (const location of asset.locations.filter((l) => l.status === 'present')) {
    const siblings = await mediaOfSourceAt(db, location.source, siblingPaths(location));
    const selfRow = { path: location.path, mime: asset.mime };
    for (const sibling of siblings) {
      if (seen.has(sibling.asset_id)) continue;
      const relation = await relationTo(db, layout, asset.media_type, selfRow, self, mine, sibling);
      if (!relation) continue;
      seen.add(sibling.asset_id);
      related.push({ assetId: sibling.asset_id, path: sibling.path, ...relation });
    }
  }
  return related;
}

async function relationTo(
  db: Db,
  layout: HomeLayout,
  mediaType: string,
  selfRow: { path: string; mime: string | null },
  self: { mime: string | null },
  mine: Times | null,
  sibling: SiblingRow,
): Promise<{ relation: Relation; by: string } | null> {
  const stillAndVideo = mediaType !== sibling.media_type;
  const twins =
    mediaType === 'image' &&
    sibling.media_type === 'image' &&
    ((isRaw(selfRow) && isJpeg(sibling)) || (isJpeg(self) && isRaw(sibling)));
  if (!stillAndVideo && !twins) return null;
  if (!mine) return null;
  const theirs = timesOf(
    metadataOf(
      layout,
      (await artifactsOfAsset(db, sibling.asset_id)).map((a) => toArtifactJson(layout, a)),
    ),
  );
  if (!theirs) return null;
  if (stillAndVideo) {
    const byIdentifier = mine.contentIdentifier !== null && theirs.contentIdentifier !== null;
    // Both name their pairing key: that decides. Else the same name and the same second.
    if (byIdentifier ? mine.contentIdentifier !== theirs.contentIdentifier : !sameMoment(mine, theirs))
      return null;
    return {
      relation: sibling.media_type === 'video' ? 'live-photo-video' : 'live-photo-still',
      by: byIdentifier ? 'content-identifier' : 'name-and-time',
    };
  }
  if (!sameMoment(mine, theirs)) return null;
  return { relation: isRaw(sibling) ? 'raw-twin' : 'jpeg-twin', by: 'name-and-time' };
}
