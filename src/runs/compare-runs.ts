import type { Db } from '../store/database.js';
import { itemOutcomesOfRun, type ItemOutcome } from '../store/run-outcomes-repository.js';
import { findRun } from '../store/runs-repository.js';
import { toRunJson, type RunJson } from './run-json.js';

export interface Difference {
  key: string;
  a: unknown;
  b: unknown;
}

/** What each run covered, and what they have in common: the ground on which they can be compared. */
export interface ScopeComparison {
  /** Assets in each run's scope. */
  a: number;
  b: number;
  /** Assets in both. */
  shared: number;
  same: boolean;
}

export interface RunComparison {
  a: RunJson;
  b: RunJson;
  /** What each run's scope was, in words: a collection, or "the failed items of run …". */
  scopeLabels: { a: string; b: string };
  scope: ScopeComparison;
  params: Difference[];
  toolVersions: Difference[];
  counts: Record<string, { a: number; b: number }>;
  failureReasons: Record<string, { a: number; b: number }>;
  timing: Record<string, { a: number | null; b: number | null }>;
  /** Share of failed items among the finished items of the shared assets, per run. */
  failedShareOnShared: { a: number | null; b: number | null };
  /** Mean time per item, summed over the steps both ran (ms): a rate that does not depend on scope size. */
  msPerItem: { a: number | null; b: number | null };
  /** The run that took less time per item, when both have timings. */
  faster: string | null;
  /** The run with the smaller share of failed items on the assets both covered. */
  moreReliable: string | null;
  /** Why a verdict is missing or what it rests on, in words. */
  notes: string[];
  /** Steps only one of the runs has (two pipeline versions: `core@1` and `core@2`). */
  steps: { onlyA: string[]; onlyB: string[] };
  /**
   * Per step both ran: of the assets both made an artifact for, how many got the same bytes and how many
   * differ (a new metadata schema differs everywhere; a reused thumbnail is the same).
   */
  outputs: Record<string, { compared: number; same: number; differ: number }>;
}

function stepsOf(items: readonly ItemOutcome[]): Set<string> {
  return new Set(items.map((item) => item.step));
}

function outputsCompared(a: readonly ItemOutcome[], b: readonly ItemOutcome[]): RunComparison['outputs'] {
  const hashes = new Map<string, string>();
  for (const item of a) if (item.sha256) hashes.set(`${item.step}\0${item.assetId}`, item.sha256);
  const outputs: RunComparison['outputs'] = {};
  for (const item of b) {
    const theirs = item.sha256 ? hashes.get(`${item.step}\0${item.assetId}`) : undefined;
    if (!theirs) continue;
    const entry = (outputs[item.step] ??= { compared: 0, same: 0, differ: 0 });
    entry.compared++;
    if (theirs === item.sha256) entry.same++;
    else entry.differ++;
  }
  return outputs;
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

/** A run's scope as a person would name it: a retry's is not its parent's collection. */
export function scopeLabel(run: RunJson): string {
  const scope = run.scope as { retryOf?: string; failedOnly?: boolean } | null;
  if (scope && typeof scope.retryOf === 'string') {
    return `${scope.failedOnly ? 'the failed items' : 'the items'} of run ${scope.retryOf}`;
  }
  return run.collection ? `collection ${run.collection}` : 'no collection';
}

function failedShare(items: ItemOutcome[], shared: Set<string>): number | null {
  const finished = items.filter(
    (item) => shared.has(item.assetId) && (item.status === 'done' || item.status === 'failed'),
  );
  if (finished.length === 0) return null;
  return finished.filter((item) => item.status === 'failed').length / finished.length;
}

type StepTimes = Record<string, { meanMs?: number; p50Ms?: number; p95Ms?: number }>;
const stepTimes = (run: RunJson) => (run.stats.steps ?? {}) as StepTimes;

function msPerItem(run: RunJson, steps: string[]): number | null {
  if (steps.length === 0) return null;
  let sum = 0;
  for (const step of steps) {
    const mean = stepTimes(run)[step]?.meanMs;
    if (typeof mean !== 'number') return null;
    sum += mean;
  }
  return sum;
}

/**
 * "Which was faster, which was more reliable, what differed": the answer `run compare` prints. Only like
 * is compared with like: reliability on the assets both runs covered, speed as time per item (a run of 44
 * items and one of 548 have very different start-up shares of their wall time), and a note says when the
 * scopes differ.
 */
export function compareRuns(
  a: RunJson,
  b: RunJson,
  outcomes: { a: ItemOutcome[]; b: ItemOutcome[] },
): RunComparison {
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
  for (const step of new Set([...Object.keys(stepTimes(a)), ...Object.keys(stepTimes(b))])) {
    timing[`${step}.p50Ms`] = { a: stepTimes(a)[step]?.p50Ms ?? null, b: stepTimes(b)[step]?.p50Ms ?? null };
    timing[`${step}.p95Ms`] = { a: stepTimes(a)[step]?.p95Ms ?? null, b: stepTimes(b)[step]?.p95Ms ?? null };
  }

  const assetsA = new Set(outcomes.a.map((item) => item.assetId));
  const assetsB = new Set(outcomes.b.map((item) => item.assetId));
  const shared = new Set([...assetsA].filter((id) => assetsB.has(id)));
  const scope: ScopeComparison = {
    a: assetsA.size,
    b: assetsB.size,
    shared: shared.size,
    same: shared.size === assetsA.size && shared.size === assetsB.size,
  };
  const notes: string[] = [];
  if (!scope.same) {
    notes.push(
      `The scopes differ (${scope.a} and ${scope.b} assets, ${scope.shared} in common): reliability is ` +
        'compared on the assets in common, speed as time per item.',
    );
  }

  const share = { a: failedShare(outcomes.a, shared), b: failedShare(outcomes.b, shared) };
  let moreReliable: string | null = null;
  if (share.a === null || share.b === null) {
    notes.push(
      shared.size === 0
        ? 'No asset is in both runs, so neither can be called more reliable.'
        : 'One run finished no item of the assets in common, so reliability cannot be compared.',
    );
  } else if (share.a !== share.b) {
    moreReliable = share.a < share.b ? a.id : b.id;
  }

  const commonSteps = Object.keys(stepTimes(a)).filter((step) => step in stepTimes(b));
  const perItem = { a: msPerItem(a, commonSteps), b: msPerItem(b, commonSteps) };
  let faster: string | null = null;
  if (perItem.a === null || perItem.b === null) {
    notes.push('The runs share no step with timings, so neither can be called faster.');
  } else if (perItem.a !== perItem.b) {
    faster = perItem.a < perItem.b ? a.id : b.id;
  }

  const [stepsA, stepsB] = [stepsOf(outcomes.a), stepsOf(outcomes.b)];
  const steps = {
    onlyA: [...stepsA].filter((s) => !stepsB.has(s)).sort(),
    onlyB: [...stepsB].filter((s) => !stepsA.has(s)).sort(),
  };
  // Runs made by a caller that did not say (older JSON, a test's partial run) are taken as alike.
  const [pipelineA, pipelineB] = [a, b].map((run) =>
    (run as Partial<RunJson>).pipeline ? `${run.pipeline.name}@${run.pipeline.version}` : null,
  );
  if (pipelineA && pipelineB && pipelineA !== pipelineB) {
    notes.push(
      `Different pipelines (${pipelineA} and ${pipelineB})` +
        (steps.onlyA.length > 0 ? `; only ${pipelineA}: ${steps.onlyA.join(', ')}` : '') +
        (steps.onlyB.length > 0 ? `; only ${pipelineB}: ${steps.onlyB.join(', ')}` : '') +
        '.',
    );
  }

  return {
    a,
    b,
    steps,
    outputs: outputsCompared(outcomes.a, outcomes.b),
    scopeLabels: { a: scopeLabel(a), b: scopeLabel(b) },
    scope,
    params: diff(flatten(a.params), flatten(b.params)),
    toolVersions: diff(tools(a), tools(b)),
    counts,
    failureReasons,
    timing,
    failedShareOnShared: share,
    msPerItem: perItem,
    faster,
    moreReliable,
    notes,
  };
}

/** `run compare A B` and `GET /api/runs/compare`: both runs by id or prefix, compared. */
export async function compareRunsByRef(db: Db, refA: string, refB: string): Promise<RunComparison> {
  const [rowA, rowB] = [await findRun(db, refA), await findRun(db, refB)];
  return compareRuns(await toRunJson(db, rowA), await toRunJson(db, rowB), {
    a: await itemOutcomesOfRun(db, rowA.id),
    b: await itemOutcomesOfRun(db, rowB.id),
  });
}
