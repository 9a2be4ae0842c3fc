import { show } from '../format.js';

/** The normalized metadata keys of PRODUCT section 5, in the order a person reads them. */
const ORDER: [string, string][] = [
  ['takenAt', 'Taken'],
  ['takenAtSource', 'Time from'],
  ['timeZone', 'Time zone'],
  ['width', 'Width'],
  ['height', 'Height'],
  ['orientation', 'Orientation'],
  ['make', 'Make'],
  ['model', 'Model'],
  ['lens', 'Lens'],
  ['exposureTime', 'Exposure'],
  ['fNumber', 'f-number'],
  ['focalLength', 'Focal length'],
  ['iso', 'ISO'],
  ['gps', 'GPS'],
  ['rating', 'Rating'],
  ['keywords', 'Keywords'],
  ['mimeType', 'MIME type'],
  ['durationSec', 'Duration (s)'],
  ['container', 'Container'],
  ['video', 'Video'],
  ['audio', 'Audio'],
];

/** A value of any JSON shape, readable: objects as `key value` pairs, lists joined. */
export function Value({ value }: { value: unknown }) {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    return (
      <span className="kv">
        {Object.entries(value as Record<string, unknown>).map(([k, v]) => (
          <span key={k}>
            {k} <b>{show(v)}</b>
          </span>
        ))}
      </span>
    );
  }
  if (Array.isArray(value)) return <>{value.length === 0 ? '-' : value.map(show).join(', ')}</>;
  return <>{show(value)}</>;
}

/** The asset's normalized metadata as a table; the tools' raw output folded away below it. */
export function MetadataTable({ metadata }: { metadata: unknown }) {
  if (!metadata || typeof metadata !== 'object')
    return <p className="muted">No metadata yet: no run has made a metadata artifact for this asset.</p>;
  const m = metadata as Record<string, unknown>;
  const known = new Set(ORDER.map(([key]) => key));
  const rows: [string, string][] = [
    ...ORDER.filter(([key]) => key in m),
    ...Object.keys(m)
      .filter((key) => !known.has(key) && key !== 'raw')
      .map((key): [string, string] => [key, key]),
  ];
  return (
    <>
      <table className="table metadata" data-testid="metadata">
        <tbody>
          {rows.map(([key, label]) => (
            <tr key={key}>
              <th>{label}</th>
              <td>
                <Value value={m[key]} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {'raw' in m && (
        <details>
          <summary>Raw tool output</summary>
          <pre className="raw">{JSON.stringify(m.raw, null, 2)}</pre>
        </details>
      )}
    </>
  );
}
