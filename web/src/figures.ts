import { formatDuration, formatMiB, formatSeconds, show } from './format.js';

/**
 * The benchmark record's figures (src/runs/run-stats.ts) and `run compare`'s rows in words, each with
 * the unit it reads best in. A figure not listed here is shown under its own name, so nothing is hidden.
 */
const FIGURES: Record<string, [label: string, format: (value: unknown) => string]> = {
  wallSeconds: ['Wall-clock time', (v) => (typeof v === 'number' ? formatSeconds(v) : show(v))],
  processed: ['Items processed (done or failed)', count],
  throughputPerSec: ['Throughput', (v) => (typeof v === 'number' ? `${v} items/s` : show(v))],
  workers: ['Workers', count],
  workerCpuMs: ['Worker CPU time', milliseconds],
  peakWorkerRssBytes: ['Peak worker memory', (v) => (typeof v === 'number' ? formatMiB(v) : show(v))],
  workerCrashes: ['Worker crashes', count],
  refusedCompletions: ['Late completions refused', count],
  counts: ['Items by state', (v) => countsText(v)],
  host: ['Host', (v) => hostText(v)],
  // run compare: coverage rows
  total: ['Items in scope', count],
  done: ['Done', count],
  reused: ['Reused (not recomputed)', count],
  failed: ['Failed', count],
  skipped: ['Skipped', count],
  pending: ['Pending', count],
  running: ['Running', count],
  // per-step timings
  count: ['Items timed', count],
  meanMs: ['Mean per item', milliseconds],
  p50Ms: ['Median per item', milliseconds],
  p95Ms: ['95th percentile per item', milliseconds],
};

function count(value: unknown): string {
  return typeof value === 'number' ? value.toLocaleString('en') : show(value);
}

function milliseconds(value: unknown): string {
  return typeof value === 'number' ? formatDuration(value) : show(value);
}

function countsText(value: unknown): string {
  if (!value || typeof value !== 'object') return show(value);
  return Object.entries(value as Record<string, unknown>)
    .filter(([, n]) => typeof n === 'number' && n > 0)
    .map(([state, n]) => `${count(n)} ${state}`)
    .join(', ');
}

function hostText(value: unknown): string {
  if (!value || typeof value !== 'object') return show(value);
  const h = value as { name?: string; platform?: string; cpus?: number; memoryBytes?: number; node?: string };
  return [
    h.name,
    h.platform,
    h.cpus !== undefined ? `${h.cpus} CPUs` : undefined,
    h.memoryBytes !== undefined ? `${formatMiB(h.memoryBytes)} memory` : undefined,
    h.node ? `Node ${h.node}` : undefined,
  ]
    .filter(Boolean)
    .join(' · ');
}

/** A figure's label in words. `thumbnail.p95Ms` (run compare) reads "thumbnail: 95th percentile per item". */
export function figureLabel(key: string): string {
  const dot = key.lastIndexOf('.');
  if (dot > 0) return `${key.slice(0, dot)}: ${figureLabel(key.slice(dot + 1))}`;
  return FIGURES[key]?.[0] ?? key;
}

export function figureValue(key: string, value: unknown): string {
  if (value === null || value === undefined) return '-';
  const name = key.slice(key.lastIndexOf('.') + 1);
  const rule = FIGURES[name];
  if (rule) return rule[1](value);
  if (name.endsWith('Ms') && typeof value === 'number') return formatDuration(value);
  if (name.endsWith('Bytes') && typeof value === 'number') return formatMiB(value);
  return show(value);
}
