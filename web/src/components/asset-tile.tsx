import { artifactFileUrl, type AssetListItem } from '../api.js';
import { Link } from '../router.js';

/** One grid tile: the thumbnail when a run made one, else a placeholder with the file's name. */
export function AssetTile({ asset }: { asset: AssetListItem | undefined }) {
  if (!asset) return <div className="tile tile-loading" />;
  const first = asset.locations[0];
  const name = first ? first.path.split('/').at(-1) : asset.id.slice(0, 12);
  return (
    <Link
      href={`/assets/${asset.id}`}
      className="tile"
      title={first ? `${first.source}:${first.path}` : asset.id}
      data-asset-id={asset.id}
      data-thumb={asset.thumbnail ? '1' : '0'}
    >
      {asset.thumbnail ? (
        <img src={artifactFileUrl(asset.thumbnail.id)} alt={name} loading="lazy" decoding="async" />
      ) : (
        <span className={`placeholder placeholder-${asset.mediaType}`}>
          <span className="placeholder-type">{asset.mediaType}</span>
        </span>
      )}
      <span className="tile-name">{name}</span>
    </Link>
  );
}
