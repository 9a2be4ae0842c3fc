import type { Command } from 'commander';
import { compareRunsByRef, type RunComparison } from '../../runs/compare-runs.js';
import { emit, table, type GlobalOptions } from '../output.js';
import { withHome } from '../with-home.js';

const show = (value: unknown) =>
  value === null || value === undefined ? '-' : typeof value === 'string' ? value : JSON.stringify(value);
const percent = (share: number | null) => (share === null ? '-' : `${(share * 100).toFixed(1)}%`);

/** Row labels in words; a field name a person would have to look up is no label. */
const COUNT_LABELS: Record<string, string> = {
  total: 'items in all',
  done: 'done',
  reused: 'of which reused',
  failed: 'failed',
  skipped: 'skipped',
  pending: 'still pending',
};
const TIMING_LABELS: Record<string, string> = {
  wallSeconds: 'wall time (s)',
  throughputPerSec: 'items per second',
  workerCpuMs: 'worker CPU (ms)',
  peakWorkerRssBytes: 'peak worker memory (bytes)',
};
function timingLabel(key: string): string {
  const step = /^(.+)\.(p50|p95)Ms$/.exec(key);
  if (step) return `${step[1]}: ${step[2] === 'p50' ? 'median' : '95th percentile'} per item (ms)`;
  return TIMING_LABELS[key] ?? key;
}

function describe(c: RunComparison): string {
  const { a, b } = c;
  const rows: string[][] = [
    ['', a.id, b.id],
    ['status', a.status, b.status],
    ['pipeline', `${a.pipeline.name}@${a.pipeline.version}`, `${b.pipeline.name}@${b.pipeline.version}`],
    ['policy', a.policy, b.policy],
    ['scope', c.scopeLabels.a, c.scopeLabels.b],
    ['assets', String(c.scope.a), String(c.scope.b)],
    ...c.params.map((d) => [`param ${d.key}`, show(d.a), show(d.b)]),
    ...c.toolVersions.map((d) => [`tool of ${d.key}`, show(d.a), show(d.b)]),
    ...Object.entries(c.counts).map(([k, v]) => [COUNT_LABELS[k] ?? k, String(v.a), String(v.b)]),
    ...Object.entries(c.failureReasons).map(([k, v]) => [`failed: ${k}`, String(v.a), String(v.b)]),
    [
      `failed, of the ${c.scope.shared} assets in common`,
      percent(c.failedShareOnShared.a),
      percent(c.failedShareOnShared.b),
    ],
    ['time per item, all steps (ms)', show(c.msPerItem.a), show(c.msPerItem.b)],
    ...Object.entries(c.timing).map(([k, v]) => [timingLabel(k), show(v.a), show(v.b)]),
  ];
  return [
    table(rows),
    '',
    `Faster per item: ${c.faster ?? 'no clear difference'}.  More reliable: ${c.moreReliable ?? 'no clear difference'}.`,
    ...c.notes,
    ...Object.entries(c.outputs).map(
      ([step, o]) => `${step}: of ${o.compared} assets both made, ${o.same} the same, ${o.differ} different.`,
    ),
    c.params.length === 0 ? 'Same params.' : `Params differ in ${c.params.map((d) => d.key).join(', ')}.`,
  ].join('\n');
}

export function registerRunCompare(run: Command): void {
  run
    .command('compare <run-a> <run-b>')
    .description('two runs side by side: params, tool versions, coverage, failure reasons, speed')
    .action(async (refA: string, refB: string, _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      await withHome(options, async (home) => {
        const comparison = await compareRunsByRef(home.db, refA, refB);
        emit(options, comparison, () => describe(comparison));
      });
    });
}
