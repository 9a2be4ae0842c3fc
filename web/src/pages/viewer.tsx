import { useEffect, useState, type ReactNode } from 'react';
import { artifactFileUrl, originalUrl, type AssetDetail, type AssetListItem } from '../api.js';
import { failureText } from '../components/asset-tile.js';
import { Problem } from '../components/problem.js';
import {
  formatBytes,
  formatCoordinates,
  formatExposure,
  formatFNumber,
  formatFocalLength,
  formatSeconds,
  formatWallClock,
} from '../format.js';
import { useJson } from '../hooks.js';
import { Link } from '../router.js';

type Metadata = Record<string, unknown>;

/** The codec names ffprobe reports, as a browser's canPlayType asks for them. */
const CODECS: Record<string, string> = {
  h264: 'avc1.42E01E',
  hevc: 'hvc1.1.6.L93.B0',
  vp8: 'vp8',
  vp9: 'vp09.00.10.08',
  av1: 'av01.0.05M.08',
};

/** Whether this browser can decode the original: its container, and its video codec when known. */
function browserPlays(mime: string | null, codec: unknown): boolean {
  if (!mime) return false;
  const probe = document.createElement('video');
  const known = typeof codec === 'string' ? CODECS[codec] : undefined;
  return probe.canPlayType(known ? `${mime}; codecs="${known}"` : mime) !== '';
}

export function cameraOf(m: Metadata): string | null {
  const make = typeof m.make === 'string' ? m.make.trim() : '';
  const model = typeof m.model === 'string' ? m.model.trim() : '';
  if (make && model) return model.toLowerCase().startsWith(make.toLowerCase()) ? model : `${make} ${model}`;
  return make || model || null;
}

/** Exposure as one line: `1/887 s · f/2.8 · 35 mm · ISO 200`. */
export function exposureOf(m: Metadata): string | null {
  const parts = [
    m.exposureTime !== null && m.exposureTime !== undefined ? formatExposure(m.exposureTime) : null,
    typeof m.fNumber === 'number' ? formatFNumber(m.fNumber) : null,
    m.focalLength !== null && m.focalLength !== undefined ? formatFocalLength(m.focalLength) : null,
    typeof m.iso === 'number' ? `ISO ${m.iso}` : null,
  ].filter((p): p is string => p !== null && p !== '-');
  return parts.length > 0 ? parts.join(' · ') : null;
}

/** Coordinates to 5 decimals, with a button that copies them. */
export function Place({ gps }: { gps: unknown }) {
  const [copied, setCopied] = useState(false);
  const g = gps as { latitude?: unknown; longitude?: unknown; altitude?: unknown } | null;
  if (!g || typeof g.latitude !== 'number' || typeof g.longitude !== 'number') return <>-</>;
  const text = formatCoordinates({ latitude: g.latitude, longitude: g.longitude });
  const copy = () =>
    void navigator.clipboard.writeText(text).then(
      () => setCopied(true),
      () => setCopied(false),
    );
  return (
    <span className="place">
      <span data-testid="coordinates">{text}</span>
      {typeof g.altitude === 'number' && <span className="muted"> · {Math.round(g.altitude)} m</span>}{' '}
      <button type="button" className="link-button" onClick={copy} data-testid="copy-coordinates">
        {copied ? 'copied' : 'copy'}
      </button>
    </span>
  );
}

/** What the picture or video shows in the viewer: the largest image the store has, never upscaled. */
function Stage({ item, detail }: { item: AssetListItem; detail: AssetDetail | undefined }) {
  const [videoFailed, setVideoFailed] = useState(false);
  useEffect(() => setVideoFailed(false), [item.id]);
  const artifacts = detail?.artifacts ?? [];
  const best = (kind: string) =>
    artifacts.find((a) => a.kind === kind && a.current) ?? artifacts.find((a) => a.kind === kind);
  const image = best('preview') ?? best('thumbnail') ?? (item.thumbnail ? { id: item.thumbnail.id } : null);
  const m = (detail?.metadata ?? {}) as Metadata;
  const video = m.video as { codec?: unknown } | undefined;
  const present = item.locations.some((l) => l.status === 'present');
  if (item.mediaType === 'video' && present && detail) {
    const plays = !videoFailed && browserPlays(item.mime, video?.codec);
    if (plays)
      return (
        <video
          key={item.id}
          className="viewer-media"
          src={originalUrl(item.id)}
          poster={image ? artifactFileUrl(image.id) : undefined}
          controls
          autoPlay
          preload="metadata"
          onError={() => setVideoFailed(true)}
          data-testid="viewer-video"
        />
      );
    return (
      <figure className="viewer-figure">
        {image && <img className="viewer-media" src={artifactFileUrl(image.id)} alt="keyframe" />}
        <figcaption className="note" data-testid="viewer-note">
          This browser cannot play {item.mime ?? 'this video'}
          {typeof video?.codec === 'string' ? ` (${video.codec})` : ''}:{' '}
          {image ? 'the keyframe is shown' : ''}. Download the original to play it.
        </figcaption>
      </figure>
    );
  }
  if (image)
    return (
      <img
        key={image.id}
        className="viewer-media"
        src={artifactFileUrl(image.id)}
        alt={item.locations[0]?.path ?? item.id}
        data-testid="viewer-image"
      />
    );
  return (
    <div
      className={`placeholder ${item.failure ? 'placeholder-failed' : `placeholder-${item.mediaType}`} big`}
    >
      <span className="placeholder-type">{item.mediaType}</span>
      <span className="muted">{item.failure ? failureText(item.failure) : 'not processed yet'}</span>
    </div>
  );
}

function Facts({ item, detail }: { item: AssetListItem; detail: AssetDetail | undefined }) {
  const m = (detail?.metadata ?? {}) as Metadata;
  const video = m.video as { codec?: string; width?: number; height?: number; fps?: number } | undefined;
  const time = item.time;
  const zone = time ? (time.zone ?? 'zone unknown') : null;
  const rows: [string, ReactNode][] = [
    [
      'Taken',
      time ? (
        <>
          {formatWallClock(time.local)} <span className="muted">{zone}</span>
          {time.source === 'mtime' && <div className="muted small">file modified: no capture time known</div>}
        </>
      ) : (
        '-'
      ),
    ],
    ['Camera', cameraOf(m) ?? '-'],
    ['Lens', typeof m.lens === 'string' && m.lens ? m.lens : '-'],
    ['Exposure', exposureOf(m) ?? '-'],
    ['Place', <Place key="place" gps={m.gps} />],
  ];
  if (typeof m.width === 'number' && typeof m.height === 'number')
    rows.push(['Dimensions', `${m.width} × ${m.height}`]);
  if (item.mediaType === 'video') {
    rows.push([
      'Duration',
      formatSeconds(typeof m.durationSec === 'number' ? m.durationSec : item.durationSec),
    ]);
    if (video?.codec)
      rows.push(['Video', `${video.codec}${video.fps ? `, ${Number(video.fps.toFixed(2))} fps` : ''}`]);
  }
  rows.push(['Size', formatBytes(item.size)]);
  if (item.failure) rows.push(['Failed', failureText(item.failure)]);
  return (
    <table className="table facts viewer-facts" data-testid="viewer-facts">
      <tbody>
        {rows.map(([label, value]) => (
          <tr key={label}>
            <th>{label}</th>
            <td>{value}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * The full-window viewer over the grid: one asset at a time, previous and next with the arrow keys or
 * the buttons, Escape to close; the key facts beside it and a link to the asset page.
 */
export function Viewer({
  index,
  total,
  item,
  onIndex,
  onClose,
}: {
  index: number;
  total: number;
  item: AssetListItem | undefined;
  onIndex: (index: number) => void;
  onClose: () => void;
}) {
  const detail = useJson<AssetDetail>(item ? `/api/assets/${item.id}` : null);
  const previous = () => index > 0 && onIndex(index - 1);
  const next = () => index < total - 1 && onIndex(index + 1);
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape') onClose();
      else if (event.key === 'ArrowLeft' && index > 0) onIndex(index - 1);
      else if (event.key === 'ArrowRight' && index < total - 1) onIndex(index + 1);
      else return;
      event.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [index, total, onIndex, onClose]);
  const location = item?.locations[0];
  return (
    <div className="viewer" role="dialog" aria-label="viewer" data-testid="viewer" data-asset-id={item?.id}>
      <div className="viewer-stage">
        {item ? <Stage item={item} detail={detail.data} /> : <p className="muted">Loading…</p>}
        <button
          type="button"
          className="viewer-nav viewer-prev"
          onClick={previous}
          disabled={index === 0}
          aria-label="previous"
        >
          ‹
        </button>
        <button
          type="button"
          className="viewer-nav viewer-next"
          onClick={next}
          disabled={index >= total - 1}
          aria-label="next"
        >
          ›
        </button>
      </div>
      <aside className="viewer-side">
        <div className="viewer-head">
          <span className="muted" data-testid="viewer-position">
            {(index + 1).toLocaleString('en')} of {total.toLocaleString('en')}
          </span>
          <button type="button" onClick={onClose} aria-label="close" data-testid="viewer-close">
            ✕
          </button>
        </div>
        {item && (
          <>
            <h2 className="viewer-name" title={location ? `${location.source}:${location.path}` : item.id}>
              {location?.path.split('/').at(-1) ?? item.id}
            </h2>
            {location && (
              <div className="muted small">
                {location.source}:{location.path}
                {item.locations.length > 1 && ` (+${item.locations.length - 1} more)`}
              </div>
            )}
            <Problem error={detail.error} />
            <Facts item={item} detail={detail.data} />
            <Link href={`/assets/${item.id}`} data-testid="viewer-asset-link">
              Asset page: metadata, artifacts, lineage →
            </Link>
          </>
        )}
        <p className="muted small">← → previous and next · Esc closes</p>
      </aside>
    </div>
  );
}
