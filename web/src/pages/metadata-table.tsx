import type { ReactNode } from 'react';
import {
  formatBitRate,
  formatExposure,
  formatFNumber,
  formatFocalLength,
  formatSeconds,
  show,
} from '../format.js';
import { Place } from './viewer.js';

/** The normalized metadata keys of PRODUCT section 5, in the order a person reads them. */
const ORDER: [string, string][] = [
  ['takenAtLocal', 'Taken (local time)'],
  ['takenAt', 'Taken'],
  ['takenAtSource', 'Time from'],
  ['timeZone', 'Time zone'],
  ['timeZoneSource', 'Zone from'],
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
  ['durationSec', 'Duration'],
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

type Fields = Record<string, unknown>;

/** A video stream as one line: `h264, 1920 × 1080, 29.97 fps, 8.1 Mbit/s, rotated 90°`. */
function videoText(v: Fields): string {
  const parts: string[] = [];
  if (typeof v.codec === 'string') parts.push(v.codec);
  if (typeof v.width === 'number' && typeof v.height === 'number') parts.push(`${v.width} × ${v.height}`);
  if (typeof v.fps === 'number') parts.push(`${Number(v.fps.toFixed(2))} fps`);
  if (typeof v.bitRate === 'number') parts.push(formatBitRate(v.bitRate));
  if (typeof v.rotation === 'number' && v.rotation !== 0) parts.push(`rotated ${v.rotation}°`);
  return parts.join(', ') || '-';
}

function audioText(a: Fields): string {
  const parts: string[] = [];
  if (typeof a.codec === 'string') parts.push(a.codec);
  if (typeof a.channels === 'number')
    parts.push(a.channels === 1 ? 'mono' : a.channels === 2 ? 'stereo' : `${a.channels} channels`);
  if (typeof a.sampleRate === 'number') parts.push(`${Number((a.sampleRate / 1000).toFixed(1))} kHz`);
  return parts.join(', ') || '-';
}

/** How the zone of a capture time was found (core@2), in words. */
const ZONE_SOURCES: Record<string, string> = {
  'offset-tag': 'the file’s offset tag',
  gps: 'the GPS position',
  sidecar: 'the sidecar’s date',
  'utc-by-format': 'a UTC stamp (by the file format), shown in the place’s zone where known',
};

/** A normalized field as a person reads it; anything without its own rule as the generic value. */
export function FieldValue({ name, value }: { name: string; value: unknown }): ReactNode {
  if (value === null || value === undefined) return '-';
  switch (name) {
    case 'exposureTime':
      return formatExposure(value);
    case 'fNumber':
      return formatFNumber(value);
    case 'focalLength':
      return formatFocalLength(value);
    case 'gps':
      return <Place gps={value} />;
    case 'durationSec':
      return typeof value === 'number' ? formatSeconds(value) : show(value);
    case 'width':
    case 'height':
      return typeof value === 'number' ? `${value.toLocaleString('en')} px` : show(value);
    case 'video':
      return typeof value === 'object' ? videoText(value as Fields) : show(value);
    case 'audio':
      return typeof value === 'object' ? audioText(value as Fields) : show(value);
    case 'timeZoneSource':
      return (typeof value === 'string' ? ZONE_SOURCES[value] : undefined) ?? show(value);
    case 'sidecars':
      return Array.isArray(value) && value.length > 0
        ? (value as { path?: unknown; kind?: unknown }[])
            .map((s) => `${show(s.path)} (${show(s.kind)})`)
            .join(', ')
        : '-';
    default:
      return <Value value={value} />;
  }
}

/** The asset's normalized metadata as a table; the tools' raw output folded away below it. */
export function MetadataTable({ metadata }: { metadata: unknown }) {
  if (!metadata || typeof metadata !== 'object')
    return <p className="muted">No metadata yet: no run has made a metadata artifact for this asset.</p>;
  const m = metadata as Record<string, unknown>;
  // core@2: the fields a sidecar decided are marked, so an edit in Lightroom is seen as such.
  const fromSidecar = new Set(Array.isArray(m.fromSidecar) ? m.fromSidecar.map(String) : []);
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
              <td data-field={key} data-from-sidecar={fromSidecar.has(key) ? 'true' : undefined}>
                <FieldValue name={key} value={m[key]} />
                {fromSidecar.has(key) && <span className="badge from-sidecar"> from sidecar</span>}
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
