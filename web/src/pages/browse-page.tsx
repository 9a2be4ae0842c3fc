import { useCallback, useState } from 'react';
import { postJson } from '../api.js';
import { AssetTile } from '../components/asset-tile.js';
import { Problem } from '../components/problem.js';
import { VirtualGrid } from '../components/virtual-grid.js';
import { useStatus } from '../hooks.js';
import { Link, navigate, useLocation } from '../router.js';
import { useAssetBlocks } from './asset-blocks.js';
import { BrowseFilters, filtersFrom, filtersToQuery, type Filters } from './browse-filters.js';

const MIN_CELL = 168;

/** Save the catalog filters of this view as a collection, to start a run on. */
function SaveCollection({ filters }: { filters: Filters }) {
  const [message, setMessage] = useState<string>();
  const [error, setError] = useState<Error>();
  const save = () => {
    const name = window.prompt('Name of the new collection (letters, digits, . _ -):');
    if (!name) return;
    const scope = { source: filters.source, type: filters.type, path: filters.path };
    postJson<{ name: string; assets: number }>('/api/collections', {
      name,
      filters: Object.fromEntries(Object.entries(scope).filter(([, v]) => v)),
    }).then(
      (c) => {
        setError(undefined);
        setMessage(`Saved "${c.name}" (${c.assets} assets).`);
      },
      (e: unknown) => setError(e as Error),
    );
  };
  return (
    <>
      <button type="button" className="link-button" onClick={save} title="source, type and path filters only">
        Save as collection
      </button>
      {message && <span className="note">{message}</span>}
      <Problem error={error} />
    </>
  );
}

/**
 * The archive as a thumbnail grid. Only the visible rows are drawn and fetched; while a run is going,
 * the status poll notices new artifacts and the visible tiles are fetched again, so thumbnails appear
 * without a reload.
 */
export function BrowsePage() {
  const { query } = useLocation();
  const filters = filtersFrom(query);
  const listing = filtersToQuery(filters);
  const status = useStatus();
  const version = status ? `${status.assets}|${status.artifacts}|${status.lastArtifactAt ?? ''}` : 'initial';
  const blocks = useAssetBlocks(listing, version);
  const setFilters = useCallback((next: Filters) => {
    const q = filtersToQuery(next);
    navigate(q ? `/?${q}` : '/', { replace: true });
  }, []);
  const renderCell = useCallback((index: number) => <AssetTile asset={blocks.get(index)} />, [blocks]);
  const active = status?.activeRuns ?? [];

  return (
    <div className="browse">
      <BrowseFilters filters={filters} onChange={setFilters} />
      <div className="browse-bar">
        <span data-testid="asset-count" className="count">
          {blocks.total === undefined ? 'Loading…' : `${blocks.total.toLocaleString('en')} assets`}
        </span>
        {active.length > 0 && (
          <span className="live" data-testid="live">
            ● {active.length === 1 ? 'a run is' : `${active.length} runs are`} going (
            {active.map((id, i) => (
              <span key={id}>
                {i > 0 && ', '}
                <Link href={`/runs/${id}`}>{id}</Link>
              </span>
            ))}
            ): new thumbnails appear as they are made
          </span>
        )}
        <SaveCollection filters={filters} />
      </div>
      <Problem error={blocks.error} />
      {blocks.total === 0 && !blocks.error ? (
        <p className="empty">
          No assets match.{' '}
          {listing
            ? 'Try fewer filters.'
            : 'Add a source and catalog it: `archivist source add`, `archivist catalog`.'}
        </p>
      ) : (
        <VirtualGrid
          count={blocks.total ?? 0}
          minCell={MIN_CELL}
          renderCell={renderCell}
          onRange={blocks.ensure}
        />
      )}
    </div>
  );
}
