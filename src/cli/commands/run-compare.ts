import type { Command } from 'commander';
import { compareRuns, type RunComparison } from '../../runs/compare-runs.js';
import { toRunJson } from '../../runs/run-json.js';
import { findRun } from '../../store/runs-repository.js';
import { emit, table, type GlobalOptions } from '../output.js';
import { withHome } from '../with-home.js';

const show = (value: unknown) =>
  value === null || value === undefined ? '-' : typeof value === 'string' ? value : JSON.stringify(value);

function describe(c: RunComparison): string {
  const { a, b } = c;
  const rows: string[][] = [
    ['', a.id, b.id],
    ['status', a.status, b.status],
    ['pipeline', `${a.pipeline.name}@${a.pipeline.version}`, `${b.pipeline.name}@${b.pipeline.version}`],
    ['policy', a.policy, b.policy],
    ['collection', a.collection ?? '-', b.collection ?? '-'],
    ...c.params.map((d) => [`param ${d.key}`, show(d.a), show(d.b)]),
    ...c.toolVersions.map((d) => [`tool ${d.key}`, show(d.a), show(d.b)]),
    ...Object.entries(c.counts).map(([k, v]) => [k, String(v.a), String(v.b)]),
    ...Object.entries(c.failureReasons).map(([k, v]) => [`failed: ${k}`, String(v.a), String(v.b)]),
    ...Object.entries(c.timing).map(([k, v]) => [k, show(v.a), show(v.b)]),
  ];
  return [
    table(rows),
    '',
    `Faster: ${c.faster ?? 'no clear difference'}.  More reliable: ${c.moreReliable ?? 'equally reliable'}.`,
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
        const a = await toRunJson(home.db, await findRun(home.db, refA));
        const b = await toRunJson(home.db, await findRun(home.db, refB));
        const comparison = compareRuns(a, b);
        emit(options, comparison, () => describe(comparison));
      });
    });
}
