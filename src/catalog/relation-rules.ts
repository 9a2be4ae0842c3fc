import path from 'node:path';
import { captureFactsOf, type CaptureFacts } from './capture-facts.js';
import { isRawExtension, MEDIA_EXTENSIONS } from './media-type.js';
import type { MediaType } from '../store/schema.js';

/**
 * The rules of which files belong together (PRODUCT section 4b), as pure functions on what the catalog
 * and the metadata say about two files of one folder and one name. One place for them: the asset page
 * works them out for one asset when asked (related-assets.ts), and the relation index keeps them for the
 * whole catalog (relation-index.ts), and both must give the same answer.
 */

export type Relation = 'live-photo-video' | 'live-photo-still' | 'raw-twin' | 'jpeg-twin' | 'motion-video-of';

/** What pairing reads from an asset's shown metadata: both times and the Apple content identifier. */
export interface PairingKeys {
  /** The instant in ms, when it is one (a known zone, or a schema-2 `takenAt`). */
  instant: number | null;
  /** The wall clock in ms as if UTC. */
  local: number | null;
  contentIdentifier: string | null;
}

/** The keys of a metadata document of either schema (core@1 has only `takenAt`); null without one. */
export function pairingKeysOfMetadata(metadata: unknown): PairingKeys | null {
  if (!metadata || typeof metadata !== 'object') return null;
  return pairingKeysOf(captureFactsOf(metadata));
}

export function pairingKeysOf(facts: CaptureFacts): PairingKeys {
  const schema2 = facts.hasLocalTime === true;
  const takenAt = facts.takenAt !== null ? Date.parse(facts.takenAt) : NaN;
  // core@1 wrote an unknown zone's wall clock as `…Z`: that is a wall clock, not an instant.
  const instant = Number.isFinite(takenAt) && (schema2 || facts.timeZone) ? takenAt : null;
  const localText = schema2 ? facts.takenAtLocal : facts.timeZone ? null : facts.takenAt;
  const local = localText !== null ? Date.parse(`${localText.replace(/Z$/, '')}Z`) : NaN;
  return {
    instant,
    local: Number.isFinite(local) ? local : null,
    contentIdentifier: facts.contentIdentifier ?? null,
  };
}

/** Within a second: instants when both are known, else the wall clocks. */
function sameMoment(a: PairingKeys, b: PairingKeys): boolean {
  if (a.instant !== null && b.instant !== null) return Math.abs(a.instant - b.instant) <= 1000;
  if (a.local !== null && b.local !== null) return Math.abs(a.local - b.local) <= 1000;
  return false;
}

export function stemOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(0, dot) : name;
}

/** `dir/stem` of a source-relative path: the files of one group share it. */
export function groupKeyOf(relative: string): string {
  const dir = path.posix.dirname(relative);
  const stem = stemOf(path.posix.basename(relative));
  return dir === '.' ? stem : `${dir}/${stem}`;
}

/** The paths a file's relatives may have: its group key with a media extension, lower or upper case. */
export function siblingPaths(relative: string): string[] {
  const prefix = groupKeyOf(relative);
  return MEDIA_EXTENSIONS.flatMap((ext) => [`${prefix}.${ext}`, `${prefix}.${ext.toUpperCase()}`]);
}

const SIBLING_EXTENSIONS: ReadonlySet<string> = new Set(
  MEDIA_EXTENSIONS.flatMap((ext) => [ext, ext.toUpperCase()]),
);

/** Could `relative` be found as a relative of a file of its group (siblingPaths would name it)? */
export function isSiblingName(relative: string): boolean {
  const name = path.posix.basename(relative);
  const dot = name.lastIndexOf('.');
  return dot > 0 && SIBLING_EXTENSIONS.has(name.slice(dot + 1));
}

/** One file of a group: a present location of a picture or a video, and its asset's pairing keys. */
export interface GroupMember {
  assetId: string;
  path: string;
  mediaType: MediaType;
  mime: string | null;
  keys: PairingKeys | null;
}

function isRaw(member: { path: string }): boolean {
  return isRawExtension(path.posix.extname(member.path).slice(1));
}

function isJpeg(member: { mime: string | null }): boolean {
  return member.mime === 'image/jpeg';
}

type Kinds = Pick<GroupMember, 'path' | 'mediaType' | 'mime'>;

/** A still and a video, or a RAW and a JPEG: two files that may be a pair, their times permitting. */
export function mayPair(self: Kinds, other: Kinds): boolean {
  const stillAndVideo = self.mediaType !== other.mediaType;
  const twins =
    self.mediaType === 'image' &&
    other.mediaType === 'image' &&
    ((isRaw(self) && isJpeg(other)) || (isJpeg(self) && isRaw(other)));
  return stillAndVideo || twins;
}

/** What `other` is to `self` (two files of one group), and how that was recognised; null: nothing. */
export function relationBetween(
  self: GroupMember,
  other: GroupMember,
): { relation: Relation; by: string } | null {
  if (!mayPair(self, other)) return null;
  const stillAndVideo = self.mediaType !== other.mediaType;
  const mine = self.keys;
  const theirs = other.keys;
  if (!mine || !theirs) return null;
  if (stillAndVideo) {
    const byIdentifier = mine.contentIdentifier !== null && theirs.contentIdentifier !== null;
    // Both name their pairing key: that decides. Else the same name and the same second.
    if (byIdentifier ? mine.contentIdentifier !== theirs.contentIdentifier : !sameMoment(mine, theirs))
      return null;
    return {
      relation: other.mediaType === 'video' ? 'live-photo-video' : 'live-photo-still',
      by: byIdentifier ? 'content-identifier' : 'name-and-time',
    };
  }
  if (!sameMoment(mine, theirs)) return null;
  return { relation: isRaw(other) ? 'raw-twin' : 'jpeg-twin', by: 'name-and-time' };
}

/**
 * The relatives a grid shows inside another file's tile: a Live Photo's video (the still is the tile)
 * and a RAW+JPEG pair's RAW (the JPEG is the tile: every browser shows it). An asset that is one of
 * these to another is folded into that one's tile unless the grid shows every file.
 */
export const FOLDED_RELATIONS: readonly Relation[] = ['live-photo-video', 'raw-twin'];
