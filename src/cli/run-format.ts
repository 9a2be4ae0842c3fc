import type { RunJson } from '../runs/run-json.js';
import type { StepCounts } from '../store/run-outcomes-repository.js';
import { bar } from './progress.js';
import { formatBytes, table } from './output.js';
import { printable } from './printable.js';

export function coverageLine(step: string, counts: StepCounts): string {
  const finished = counts.done + counts.failed + counts.skipped;
  const fraction = counts.total === 0 ? 1 : finished / counts.total;
  return `${step.padEnd(12)} ${bar(fraction)} ${String(finished).padStart(6)}/${counts.total}  done ${counts.done}${
    counts.reused ? ` (${counts.reused} reused)` : ''
  }  running ${counts.running}  pending ${counts.pending}  failed ${counts.failed}  skipped ${counts.skipped}`;
}

/** `run show` for a person: the record, coverage per step, failures grouped by reason, the figures. */
export function describeRun(run: RunJson): string {
  const lines = [
    `Run ${run.id}  ${run.status.toUpperCase()}${run.statusReason ? `  (${printable(run.statusReason)})` : ''}`,
    table([
      ['pipeline', `${run.pipeline.name}@${run.pipeline.version}`],
      ['policy', run.policy],
      ['collection', printable(run.collection ?? '(none)')],
      ...(run.parentRunId ? [[run.stats.promotedFrom ? 'promoted from' : 'retry of', run.parentRunId]] : []),
      [
        'params',
        Object.entries(run.params)
          .map(([step, p]) => `${step} ${JSON.stringify(p)}`)
          .join('  '),
      ],
      [
        'tools',
        Object.entries(run.toolVersions)
          .map(([step, t]) => `${step}: ${t.name} ${t.version}`)
          .join(', '),
      ],
      ['min free', `${run.minFree.spec} (${formatBytes(run.minFree.bytes)})`],
      ['workers', String(run.workers)],
      ['created', run.createdAt],
      ['started', run.stats.startedAt ?? '-'],
      ['finished', run.stats.finishedAt ?? '-'],
    ]).replace(/^/gm, '  '),
    'Coverage:',
    ...Object.entries(run.steps).map(([step, counts]) => `  ${coverageLine(step, counts)}`),
  ];
  if (run.failures.length > 0) {
    const byReason = new Map<string, RunJson['failures']>();
    for (const failure of run.failures)
      byReason.set(failure.reason, [...(byReason.get(failure.reason) ?? []), failure]);
    lines.push(`Failures (${run.failures.length}):`);
    for (const [reason, failures] of byReason) {
      lines.push(`  ${printable(reason)} (${failures.length})`);
      for (const f of failures.slice(0, 10)) {
        lines.push(
          `    ${f.step.padEnd(10)} ${printable(f.path ?? f.assetId)}  [${f.attempts} attempt${f.attempts === 1 ? '' : 's'}]`,
        );
        if (f.message) lines.push(`      ${printable(f.message)}`);
        const tail = f.stderrTail?.split('\n').filter(Boolean).at(-1);
        if (tail) lines.push(`      stderr: ${printable(tail)}`);
      }
      if (failures.length > 10) lines.push(`    … ${failures.length - 10} more (--json for all)`);
    }
  }
  lines.push(...describeWorkers(run.workerStats));
  const stats = run.stats as Record<string, unknown>;
  if (typeof stats.wallSeconds === 'number') {
    const steps = (stats.steps ?? {}) as Record<string, { meanMs: number; p50Ms: number; p95Ms: number }>;
    lines.push(
      `Figures: ${stats.wallSeconds.toFixed(1)} s, ${typeof stats.throughputPerSec === 'number' ? stats.throughputPerSec : '-'} items/s, worker CPU ${(
        Number(stats.workerCpuMs ?? 0) / 1000
      ).toFixed(
        1,
      )} s, peak worker memory ${formatBytes(Number(stats.peakWorkerRssBytes ?? 0))}, worker crashes ${typeof stats.workerCrashes === 'number' ? stats.workerCrashes : 0}`,
    );
    for (const [step, t] of Object.entries(steps))
      lines.push(`  ${step}: mean ${t.meanMs} ms, p50 ${t.p50Ms} ms, p95 ${t.p95Ms} ms`);
  }
  return lines.join('\n');
}

/**
 * Every worker process that took part, grouped by host, with its figures; `refused` are its completions
 * that came after its lease was taken over (a host cut off, then back), which count for nothing. What a
 * worker claimed is what it finished (done, failed attempts, skipped), gave back, or lost to a takeover.
 */
function describeWorkers(workers: RunJson['workerStats']): string[] {
  if (workers.length === 0) return [];
  const hosts = [...new Set(workers.map((w) => w.host))];
  const lines = [`Workers (${workers.length} on ${hosts.length} host${hosts.length === 1 ? '' : 's'}):`];
  const rows = [
    ['HOST', 'WORKER', 'CLAIMED', 'DONE', 'FAILED', 'SKIPPED', 'GIVEN BACK', 'REFUSED', 'LAST HEARTBEAT'],
  ];
  for (const host of hosts) {
    for (const w of workers.filter((x) => x.host === host)) {
      rows.push([
        printable(host),
        printable(w.worker),
        String(w.claimed),
        String(w.done),
        String(w.failed),
        String(w.skipped),
        String(w.released),
        String(w.refused),
        w.lastHeartbeatAt,
      ]);
    }
  }
  lines.push(table(rows).replace(/^/gm, '  '));
  return lines;
}

/** Exit codes of PRODUCT section 5 for a foreground run: 3 finished with failures, 4 stopped early. */
export function runExitCode(run: Pick<RunJson, 'status' | 'counts'>): number {
  switch (run.status) {
    case 'completed':
      return run.counts.failed > 0 ? 3 : 0;
    case 'cancelled':
    case 'paused':
    case 'interrupted':
    case 'cancelling':
      return 4;
    case 'queued':
    case 'running':
      return 0;
  }
}
