import type { MouseEvent } from 'react';
import { artifactFileUrl, type AssetListItem } from '../api.js';
import { formatClock, formatWallClock } from '../format.js';
import { Link } from '../router.js';

/** Why a tile's asset failed, as its badge's tooltip says it. */
export function failureText(failure: NonNullable<AssetListItem['failure']>): string {
  return `${failure.step} failed in ${failure.runId}: ${failure.reason ?? 'failed'}${
    failure.message ? ` (${failure.message})` : ''
  }${failure.attempts > 1 ? `, after ${failure.attempts} attempts` : ''}`;
}

/** A tile's pair badge: a Live Photo, or a RAW+JPEG pair (from the relation index); null for none. */
export function pairBadge(asset: AssetListItem): { text: string; title: string } | null {
  const relations = new Set(asset.relatives.map((r) => r.relation));
  if (relations.has('live-photo-video') || relations.has('live-photo-still'))
    return { text: 'LIVE', title: 'Live Photo: a still and its video (both on the asset page)' };
  if (relations.has('raw-twin') || relations.has('jpeg-twin'))
    return { text: 'RAW+JPEG', title: 'RAW+JPEG pair: the same picture as a RAW and a JPEG' };
  if (relations.has('motion-video-of'))
    return { text: 'MOTION', title: 'Motion photo: its video plays on the asset page' };
  return null;
}

/**
 * One grid tile: the thumbnail when a run made one, else a placeholder with the file's name (a failed
 * one is marked as such, apart from one no run processed yet); the date it is sorted by; for a video a
 * play badge with its length. A click opens the viewer (`onOpen`); the link itself is the asset page.
 */
export function AssetTile({
  asset,
  onOpen,
}: {
  asset: AssetListItem | undefined;
  onOpen?: (event: MouseEvent<HTMLAnchorElement>) => void;
}) {
  if (!asset) return <div className="tile tile-loading" />;
  const first = asset.locations[0];
  const name = first ? first.path.split('/').at(-1) : asset.id.slice(0, 12);
  const failure = asset.failure;
  const date = asset.time ? formatWallClock(asset.time.local, false) : null;
  const pair = pairBadge(asset);
  return (
    <Link
      href={`/assets/${asset.id}`}
      className={failure && !asset.thumbnail ? 'tile tile-failed' : 'tile'}
      title={first ? `${first.source}:${first.path}` : asset.id}
      data-asset-id={asset.id}
      data-thumb={asset.thumbnail ? '1' : '0'}
      onClick={onOpen}
    >
      {asset.thumbnail ? (
        <img src={artifactFileUrl(asset.thumbnail.id)} alt={name} loading="lazy" decoding="async" />
      ) : failure ? (
        <span className="placeholder placeholder-failed">
          <span className="placeholder-type">{asset.mediaType}</span>
          <span className="placeholder-note">{failure.reason ?? 'failed'}</span>
        </span>
      ) : (
        <span className={`placeholder placeholder-${asset.mediaType}`}>
          <span className="placeholder-type">{asset.mediaType}</span>
          <span className="placeholder-note">not processed yet</span>
        </span>
      )}
      {failure && (
        <span className="tile-badge badge-failed" data-testid="failed-badge" title={failureText(failure)}>
          ! {failure.reason ?? 'failed'}
        </span>
      )}
      {pair && (
        <span
          className={failure ? 'tile-badge badge-pair badge-second' : 'tile-badge badge-pair'}
          data-testid="pair-badge"
          title={pair.title}
        >
          {pair.text}
        </span>
      )}
      {asset.mediaType === 'video' && (
        <span className="tile-badge badge-video" data-testid="video-badge">
          ▶{asset.durationSec !== null ? ` ${formatClock(asset.durationSec)}` : ''}
        </span>
      )}
      <span className="tile-name">
        <span className="tile-file">{name}</span>
        {date && (
          <span
            className="tile-date"
            data-testid="tile-date"
            title={asset.time!.source === 'mtime' ? 'file modified (no capture time known)' : undefined}
          >
            {asset.time!.source === 'mtime' ? `~${date}` : date}
          </span>
        )}
      </span>
    </Link>
  );
}
