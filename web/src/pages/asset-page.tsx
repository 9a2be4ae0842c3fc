import { useState } from 'react';
import { artifactFileUrl, originalUrl, type AssetDetail, type AssetWorkItem } from '../api.js';
import { Problem } from '../components/problem.js';
import { StatusBadge } from '../components/status-badge.js';
import { formatBytes, formatDuration, formatTime } from '../format.js';
import { useJson, useStatus } from '../hooks.js';
import { Link } from '../router.js';
import { ArtifactCard } from './artifact-card.js';
import { MetadataTable } from './metadata-table.js';

/** What a browser can show of an original, full size. */
const VIEWABLE = /^(image\/(jpeg|png|gif|webp|avif|bmp)|video\/(mp4|webm|ogg))$/;

function Preview({ asset }: { asset: AssetDetail }) {
  const [full, setFull] = useState(false);
  // core@2's large preview where there is one (HEIC, RAW and video frames shown large), else the thumbnail.
  const shown = (kind: string) =>
    asset.artifacts.find((a) => a.kind === kind && a.current) ?? asset.artifacts.find((a) => a.kind === kind);
  const thumb = shown('preview') ?? shown('thumbnail');
  const present = asset.locations.some((l) => l.status === 'present');
  const viewable = asset.mime !== null && VIEWABLE.test(asset.mime) && present;
  // The server sends originals as attachments (an archived HTML file must never open as a page of this
  // origin), so full size is shown here, inside the app, rather than by navigating to the file.
  const fullView = full && viewable;
  return (
    <div className="preview" data-testid="preview">
      {fullView && asset.mediaType === 'video' ? (
        <video src={originalUrl(asset.id)} controls data-testid="original" />
      ) : fullView ? (
        <img src={originalUrl(asset.id)} alt="original, full size" data-testid="original" />
      ) : thumb ? (
        <img src={artifactFileUrl(thumb.id)} alt="thumbnail" />
      ) : (
        <div className={`placeholder placeholder-${asset.mediaType} big`}>
          <span className="placeholder-type">{asset.mediaType}</span>
          <span className="muted">no thumbnail yet</span>
        </div>
      )}
      {viewable && (
        <button type="button" className="link-button" onClick={() => setFull(!full)}>
          {full ? 'Back to the thumbnail' : 'View the original, full size (read-only)'}
        </button>
      )}
      {present && <a href={originalUrl(asset.id)}>Download the original</a>}
    </div>
  );
}

const RELATIONS: Record<string, string> = {
  'live-photo-video': 'Live Photo video',
  'live-photo-still': 'Live Photo still',
  'raw-twin': 'RAW twin',
  'jpeg-twin': 'JPEG twin',
  'motion-video-of': 'Motion photo video',
};

/** The files that belong with this one (core@2), each a link; a motion photo's video plays here. */
function Related({ asset }: { asset: AssetDetail }) {
  if (asset.related.length === 0) return null;
  return (
    <>
      <h2>Belongs with</h2>
      <ul className="related" data-testid="related">
        {asset.related.map((r) => (
          <li key={`${r.relation}-${r.assetId}-${r.artifactId ?? ''}`} data-relation={r.relation}>
            <b>{RELATIONS[r.relation] ?? r.relation}</b>{' '}
            {r.artifactId ? (
              <video src={artifactFileUrl(r.artifactId)} controls loop muted className="motion-video" />
            ) : (
              <Link href={`/assets/${r.assetId}`}>{r.path ?? r.assetId}</Link>
            )}
            {r.by && (
              <span className="muted">
                {' '}
                (by {r.by === 'content-identifier' ? 'content identifier' : 'name and capture time'})
              </span>
            )}
          </li>
        ))}
      </ul>
    </>
  );
}

/** The sidecars the catalog linked, and whether the metadata shown was made from them as they are now. */
function Sidecars({ asset }: { asset: AssetDetail }) {
  const status = asset.metadataStatus;
  if (asset.sidecars.length === 0 && !status?.stale) return null;
  return (
    <>
      <h2>Sidecars ({asset.sidecars.length})</h2>
      {status?.stale && (
        <p className="warning" data-testid="metadata-stale">
          The metadata is stale: {status.reasons.join('; ')}. A new run recomputes it.
        </p>
      )}
      {status && !status.stale && status.reasons.length > 0 && (
        <p className="muted">{status.reasons.join('; ')}</p>
      )}
      <ul data-testid="sidecars">
        {asset.sidecars.map((s) => (
          <li key={s.path}>
            {s.kind === 'xmp' ? 'XMP' : 'Google Takeout JSON'}: <code>{s.path}</code>
          </li>
        ))}
      </ul>
    </>
  );
}

/** Every run's work on this asset: how a missing artifact is explained without opening a log. */
function History({ items }: { items: AssetWorkItem[] }) {
  if (items.length === 0) return <p className="muted">No run has included this asset yet.</p>;
  return (
    <table className="table" data-testid="history">
      <thead>
        <tr>
          <th>Run</th>
          <th>Pipeline</th>
          <th>Step</th>
          <th>Status</th>
          <th>Reason</th>
          <th>Attempts</th>
          <th>Took</th>
          <th>Finished</th>
        </tr>
      </thead>
      <tbody>
        {items.map((item) => (
          <tr key={`${item.runId}-${item.step}`}>
            <td>
              <Link href={`/runs/${item.runId}`}>{item.runId}</Link>
            </td>
            <td>{item.pipeline}</td>
            <td>{item.step}</td>
            <td>
              <StatusBadge status={item.status} />
              {item.reused && <span className="muted"> reused</span>}
            </td>
            <td>
              {item.reason ?? ''}
              {item.message && <div className="muted">{item.message}</div>}
              {item.stderrTail && (
                <details>
                  <summary>stderr</summary>
                  <pre className="stderr">{item.stderrTail}</pre>
                </details>
              )}
            </td>
            <td>{item.attempts}</td>
            <td>{formatDuration(item.durationMs)}</td>
            <td>{formatTime(item.finishedAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function AssetPage({ id }: { id: string }) {
  const status = useStatus();
  const live = (status?.activeRuns.length ?? 0) > 0 ? 2000 : undefined;
  const asset = useJson<AssetDetail>(`/api/assets/${encodeURIComponent(id)}`, live);
  const history = useJson<{ items: AssetWorkItem[] }>(`/api/assets/${encodeURIComponent(id)}/history`, live);
  if (asset.error) return <Problem error={asset.error} />;
  const a = asset.data;
  if (!a) return <p className="muted">Loading…</p>;
  const name = a.locations[0]?.path.split('/').at(-1) ?? a.id;
  return (
    <div className="asset-page">
      <h1>{name}</h1>
      <div className="asset-top">
        <Preview asset={a} />
        <div>
          <table className="table facts">
            <tbody>
              <tr>
                <th>Asset</th>
                <td>
                  <code>{a.id}</code>
                </td>
              </tr>
              <tr>
                <th>Type</th>
                <td>
                  {a.mediaType}
                  {a.mime ? ` (${a.mime})` : ''}
                </td>
              </tr>
              <tr>
                <th>Size</th>
                <td>
                  {formatBytes(a.size)} ({a.size.toLocaleString('en')} bytes)
                </td>
              </tr>
              <tr>
                <th>First seen</th>
                <td>{formatTime(a.firstSeenAt)}</td>
              </tr>
            </tbody>
          </table>
          <h2>Metadata</h2>
          <MetadataTable metadata={a.metadata} />
          <Sidecars asset={a} />
          <Related asset={a} />
        </div>
      </div>
      <h2>Locations ({a.locations.length})</h2>
      <table className="table" data-testid="locations">
        <thead>
          <tr>
            <th>Source</th>
            <th>Path</th>
            <th>Status</th>
            <th>Modified</th>
            <th>On disk</th>
          </tr>
        </thead>
        <tbody>
          {a.locations.map((l) => (
            <tr key={`${l.source}:${l.path}`}>
              <td>{l.source}</td>
              <td>{l.path}</td>
              <td>{l.status === 'missing' ? `missing since ${formatTime(l.missingSince)}` : 'present'}</td>
              <td>{formatTime(l.mtime)}</td>
              <td>
                <code>{l.absolutePath}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Artifacts ({a.artifacts.length})</h2>
      {a.artifacts.length === 0 && (
        <p className="muted">None yet: no run has made an artifact of this asset.</p>
      )}
      {a.artifacts.map((artifact) => (
        <ArtifactCard key={artifact.id} artifact={artifact} />
      ))}
      <h2>What runs did with it</h2>
      <History items={history.data?.items ?? []} />
    </div>
  );
}
