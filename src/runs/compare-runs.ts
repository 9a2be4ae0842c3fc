import type { RunJson } from './run-json.js';

export interface Difference {
  key: string;
  a: unknown;
  b: unknown;
}

export interface RunComparison {
  a: RunJson;
  b: RunJson;
  params: Difference[];
  toolVersions: Difference[];
  counts: Record<string, { a: number; b: number }>;
  failureReasons: Record<string, { a: number; b: number }>;
  timing: Record<string, { a: number | null; b: number | null }>;
  /** The run with the higher throughput, when both have one. */
  faster: string | null;
  /** The run with the smaller share of failed items. */
  moreReliable: string | null;
}

function flatten(value: Record<string, Record<string, unknown>>): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [step, params] of Object.entries(value))
    for (const [k, v] of Object.entries(params)) out.set(`${step}.${k}`, v);
  return out;
}

function diff(a: Map<string, unknown>, b: Map<string, unknown>): Difference[] {
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  return keys
    .filter((key) => JSON.stringify(a.get(key)) !== JSON.stringify(b.get(key)))
    .map((key) => ({ key, a: a.get(key) ?? null, b: b.get(key) ?? null }));
}

function reasons(run: RunJson): Map<string, number> {
  const counts = new Map<string, number>();
  for (const f of run.failures) counts.set(f.reason, (counts.get(f.reason) ?? 0) + 1);
  return counts;
}

/** "Which was faster, which was more reliable, what differed": the answer `run compare` prints. */
export function compareRuns(a: RunJson, b: RunJson): RunComparison {
  const tools = (run: RunJson) =>
    new Map(Object.entries(run.toolVersions).map(([step, t]) => [step, `${t.name} ${t.version}`] as const));
  const counts: RunComparison['counts'] = {};
  for (const key of ['total', 'done', 'reused', 'failed', 'skipped', 'pending'] as const)
    counts[key] = { a: a.counts[key], b: b.counts[key] };
  const ra = reasons(a);
  const rb = reasons(b);
  const failureReasons: RunComparison['failureReasons'] = {};
  for (const reason of new Set([...ra.keys(), ...rb.keys()]))
    failureReasons[reason] = { a: ra.get(reason) ?? 0, b: rb.get(reason) ?? 0 };

  const num = (run: RunJson, key: string) => (typeof run.stats[key] === 'number' ? run.stats[key] : null);
  const timing: RunComparison['timing'] = {};
  for (const key of ['wallSeconds', 'throughputPerSec', 'workerCpuMs', 'peakWorkerRssBytes'])
    timing[key] = { a: num(a, key), b: num(b, key) };
  const stepTimes = (run: RunJson) =>
    (run.stats.steps ?? {}) as Record<string, { p50Ms: number; p95Ms: number }>;
  for (const step of new Set([...Object.keys(stepTimes(a)), ...Object.keys(stepTimes(b))])) {
    timing[`${step}.p50Ms`] = { a: stepTimes(a)[step]?.p50Ms ?? null, b: stepTimes(b)[step]?.p50Ms ?? null };
    timing[`${step}.p95Ms`] = { a: stepTimes(a)[step]?.p95Ms ?? null, b: stepTimes(b)[step]?.p95Ms ?? null };
  }
  const ta = timing.throughputPerSec!.a;
  const tb = timing.throughputPerSec!.b;
  const failShare = (run: RunJson) => (run.counts.total === 0 ? 0 : run.counts.failed / run.counts.total);
  return {
    a,
    b,
    params: diff(flatten(a.params), flatten(b.params)),
    toolVersions: diff(tools(a), tools(b)),
    counts,
    failureReasons,
    timing,
    faster: ta !== null && tb !== null && ta !== tb ? (ta > tb ? a.id : b.id) : null,
    moreReliable: failShare(a) !== failShare(b) ? (failShare(a) < failShare(b) ? a.id : b.id) : null,
  };
}
