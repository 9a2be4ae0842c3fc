import { useCallback, useEffect, useMemo, useState } from 'react';
import { postJson } from '../api.js';
import { AssetTile } from '../components/asset-tile.js';
import { Problem } from '../components/problem.js';
import { VirtualGrid, type GridSection } from '../components/virtual-grid.js';
import { formatMonth } from '../format.js';
import { useJson, useStatus } from '../hooks.js';
import { Link, navigate, useLocation } from '../router.js';
import { useAssetBlocks } from './asset-blocks.js';
import {
  BrowseFilters,
  filtersFrom,
  filtersToQuery,
  listingQuery,
  sortOf,
  type Filters,
} from './browse-filters.js';
import { Viewer } from './viewer.js';

const MIN_CELL = 168;
const HEADER = 44;

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

interface Timeline {
  total: number;
  groups: { month: string; count: number; offset: number }[];
}

/** Each year with the position of its first asset, in the grid's order: the year list jumps there. */
function yearsOf(groups: Timeline['groups']): { year: string; offset: number }[] {
  const years: { year: string; offset: number }[] = [];
  for (const g of groups) {
    const year = g.month.slice(0, 4) || 'No date';
    if (years.at(-1)?.year !== year) years.push({ year, offset: g.offset });
  }
  return years;
}

/**
 * The archive as a thumbnail grid, newest first by default, under a header per month with a year list to
 * jump with. Only the visible rows are drawn and fetched; while a run is going, the status poll notices
 * new artifacts and the visible tiles are fetched again, so thumbnails appear without a reload. A tile
 * opens the viewer over the grid.
 */
export function BrowsePage() {
  const { query } = useLocation();
  const filters = filtersFrom(query);
  const sort = sortOf(filters);
  const listing = listingQuery({ ...filters, sort });
  const status = useStatus();
  const version = status ? `${status.assets}|${status.artifacts}|${status.lastArtifactAt ?? ''}` : 'initial';
  const blocks = useAssetBlocks(listing, version);
  const timeline = useJson<Timeline>(sort === 'path' ? null : `/api/assets/timeline?${listing}`);
  const reloadTimeline = timeline.reload;
  useEffect(() => reloadTimeline(), [version, reloadTimeline]);
  const [viewing, setViewing] = useState<number | null>(null);
  const [scrollTo, setScrollTo] = useState<{ index: number } | null>(null);
  const [range, setRange] = useState<[number, number, number]>([0, 0, 0]);
  useEffect(() => setViewing(null), [listing]);

  const setFilters = useCallback((next: Filters) => {
    const q = filtersToQuery(next);
    navigate(q ? `/?${q}` : '/', { replace: true });
  }, []);
  const onRange = useCallback(
    (start: number, end: number, first: number) => {
      blocks.ensure(start, end);
      setRange([start, end, first]);
    },
    [blocks],
  );
  const renderCell = useCallback(
    (index: number) => (
      <AssetTile
        asset={blocks.get(index)}
        onOpen={(event) => {
          if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
          event.preventDefault();
          setViewing(index);
        }}
      />
    ),
    [blocks],
  );
  // The headers, once they describe the very listing the grid shows (both change during a catalog).
  const groups = timeline.data && timeline.data.total === blocks.total ? timeline.data.groups : undefined;
  // A block out of sequence (a jump) starts at its month: the headers say where each begins.
  blocks.setMonths(groups ?? []);
  const sections = useMemo(
    () => groups?.map((g) => ({ key: g.month, start: g.offset, count: g.count })),
    [groups],
  );
  const renderHeader = useCallback(
    (section: GridSection) => (
      <h2 className="date-header" data-testid="date-header" data-month={section.key}>
        {formatMonth(section.key)} <span className="muted">{section.count.toLocaleString('en')}</span>
      </h2>
    ),
    [],
  );
  const years = groups ? yearsOf(groups) : [];
  const currentYear = years.findLast((y) => y.offset <= range[2])?.year;
  const openIndex = useCallback(
    (index: number) => {
      blocks.ensure(Math.max(0, index - 1), index + 2);
      setViewing(index);
    },
    [blocks],
  );
  const close = useCallback(() => {
    // Back in the grid where the viewer got to.
    if (viewing !== null && (viewing < range[0] || viewing >= range[1])) setScrollTo({ index: viewing });
    setViewing(null);
  }, [viewing, range]);
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
          {filtersToQuery({ ...filters, sort: undefined })
            ? 'Try fewer filters.'
            : 'Add a source and catalog it: `archivist source add`, `archivist catalog`.'}
        </p>
      ) : (
        <div className="browse-body">
          <VirtualGrid
            count={blocks.total ?? 0}
            minCell={MIN_CELL}
            sections={sections}
            headerHeight={HEADER}
            renderHeader={sections ? renderHeader : undefined}
            renderCell={renderCell}
            onRange={onRange}
            scrollTo={scrollTo}
          />
          {years.length > 1 && (
            <nav className="years" aria-label="years" data-testid="years">
              {years.map((y) => (
                <button
                  type="button"
                  key={y.year}
                  className={y.year === currentYear ? 'year current' : 'year'}
                  onClick={() => setScrollTo({ index: y.offset })}
                >
                  {y.year}
                </button>
              ))}
            </nav>
          )}
        </div>
      )}
      {viewing !== null && blocks.total !== undefined && (
        <Viewer
          index={viewing}
          total={blocks.total}
          item={blocks.get(viewing)}
          onIndex={openIndex}
          onClose={close}
        />
      )}
    </div>
  );
}
