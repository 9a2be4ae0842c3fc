import { useEffect, useState } from 'react';
import type { Facets, RunSummary } from '../api.js';
import { useDebounced, useJson } from '../hooks.js';

export const FILTER_KEYS = [
  'sort',
  'duplicates',
  'relatives',
  'allFiles',
  'source',
  'type',
  'path',
  'takenFrom',
  'takenTo',
  'camera',
  'has',
  'lacks',
  'missing',
  'failedIn',
] as const;
export type FilterKey = (typeof FILTER_KEYS)[number];
export type Filters = Partial<Record<FilterKey, string>>;

export function filtersFrom(query: URLSearchParams): Filters {
  const filters: Filters = {};
  for (const key of FILTER_KEYS) {
    const value = query.get(key);
    if (value) filters[key] = value;
  }
  return filters;
}

/** The grid's orders; newest first unless the URL says otherwise. */
export const SORTS = [
  ['newest', 'Newest first'],
  ['oldest', 'Oldest first'],
  ['path', 'By folder and name'],
] as const;
export type Sort = (typeof SORTS)[number][0];

export function sortOf(filters: Filters): Sort {
  return SORTS.find(([value]) => value === filters.sort)?.[0] ?? 'newest';
}

export function filtersToQuery(filters: Filters): string {
  const params = new URLSearchParams();
  for (const key of FILTER_KEYS) if (filters[key]) params.set(key, filters[key]);
  return params.toString();
}

/**
 * The API query of the grid's listing: the filters as they are, and one tile per pair (a Live Photo's
 * video and a RAW+JPEG pair's RAW folded into their partner's tile) unless "every file" is asked for.
 */
export function listingQuery(filters: Filters): string {
  const { allFiles, ...rest } = filters;
  const query = filtersToQuery(rest);
  if (allFiles === 'true') return query;
  return query ? `${query}&foldPairs=true` : 'foldPairs=true';
}

function Select(props: {
  label: string;
  value: string | undefined;
  options: string[];
  onChange: (v: string) => void;
  name: string;
}) {
  return (
    <label>
      {props.label}
      <select name={props.name} value={props.value ?? ''} onChange={(e) => props.onChange(e.target.value)}>
        <option value="">any</option>
        {props.options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    </label>
  );
}

/** The Browse filters. Choices apply at once; typed text applies when the typing stops. */
export function BrowseFilters({ filters, onChange }: { filters: Filters; onChange: (f: Filters) => void }) {
  const facets = useJson<Facets>('/api/facets', 10_000).data;
  const runs = useJson<RunSummary[]>('/api/runs?limit=50', 10_000).data ?? [];
  const [path, setPath] = useState(filters.path ?? '');
  const [camera, setCamera] = useState(filters.camera ?? '');
  const typedPath = useDebounced(path, 400);
  const typedCamera = useDebounced(camera, 400);
  const set = (key: FilterKey, value: string) => onChange({ ...filters, [key]: value || undefined });

  useEffect(() => {
    if ((filters.path ?? '') !== typedPath || (filters.camera ?? '') !== typedCamera)
      onChange({ ...filters, path: typedPath || undefined, camera: typedCamera || undefined });
    // Only typing drives this effect; the other filters are passed through as they are.
  }, [typedPath, typedCamera]);

  const kinds = facets?.artifactKinds ?? [];
  return (
    <form className="filters" onSubmit={(e) => e.preventDefault()} data-testid="filters">
      <label>
        Order
        <select
          name="sort"
          value={sortOf(filters)}
          onChange={(e) => set('sort', e.target.value === 'newest' ? '' : e.target.value)}
        >
          {SORTS.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
      </label>
      <label className="check">
        <input
          type="checkbox"
          name="duplicates"
          checked={filters.duplicates === 'true'}
          onChange={(e) => set('duplicates', e.target.checked ? 'true' : '')}
        />
        Duplicates only
      </label>
      <label className="check" title="Live Photos and RAW+JPEG pairs (found by core@2's metadata)">
        <input
          type="checkbox"
          name="relatives"
          checked={filters.relatives === 'true'}
          onChange={(e) => set('relatives', e.target.checked ? 'true' : '')}
        />
        Relatives only
      </label>
      <label className="check" title="A pair is one tile with a badge; show each of its files as a tile">
        <input
          type="checkbox"
          name="allFiles"
          checked={filters.allFiles === 'true'}
          onChange={(e) => set('allFiles', e.target.checked ? 'true' : '')}
        />
        Every file of a pair
      </label>
      <Select
        name="source"
        label="Source"
        value={filters.source}
        options={facets?.sources ?? []}
        onChange={(v) => set('source', v)}
      />
      <Select
        name="type"
        label="Type"
        value={filters.type}
        options={facets?.types ?? []}
        onChange={(v) => set('type', v)}
      />
      <label>
        Path
        <input
          name="path"
          value={path}
          placeholder="2019/* or *.heic"
          onChange={(e) => setPath(e.target.value)}
        />
      </label>
      <label>
        Taken from
        <input
          name="takenFrom"
          type="date"
          value={filters.takenFrom ?? ''}
          onChange={(e) => set('takenFrom', e.target.value)}
        />
      </label>
      <label>
        to
        <input
          name="takenTo"
          type="date"
          value={filters.takenTo ?? ''}
          onChange={(e) => set('takenTo', e.target.value)}
        />
      </label>
      <label>
        Camera
        <input
          name="camera"
          value={camera}
          list="cameras"
          placeholder="any"
          onChange={(e) => setCamera(e.target.value)}
        />
        <datalist id="cameras">
          {(facets?.cameras ?? []).map((c) => (
            <option key={c} value={c} />
          ))}
        </datalist>
      </label>
      <Select name="has" label="Has" value={filters.has} options={kinds} onChange={(v) => set('has', v)} />
      <Select
        name="lacks"
        label="Lacks"
        value={filters.lacks}
        options={kinds}
        onChange={(v) => set('lacks', v)}
      />
      <Select
        name="missing"
        label="No done step"
        value={filters.missing}
        options={facets?.steps ?? []}
        onChange={(v) => set('missing', v)}
      />
      <Select
        name="failedIn"
        label="Failed in run"
        value={filters.failedIn}
        options={runs.filter((r) => r.counts.failed > 0).map((r) => r.id)}
        onChange={(v) => set('failedIn', v)}
      />
      <button
        type="button"
        className="link-button"
        onClick={() => {
          setPath('');
          setCamera('');
          onChange(filters.sort ? { sort: filters.sort } : {});
        }}
      >
        Clear
      </button>
    </form>
  );
}
