import { useEffect, useRef, useState, type ReactNode } from 'react';
import type { RunJson } from '../api.js';
import { CoverageBar, CoverageLegend } from '../components/coverage-bar.js';
import { Problem } from '../components/problem.js';
import { StatusBadge } from '../components/status-badge.js';
import { figureLabel, figureValue } from '../figures.js';
import { formatBytes, formatTime } from '../format.js';
import { useJson, useRunEvents } from '../hooks.js';
import { Link } from '../router.js';
import { FailuresList } from './failures-list.js';
import { RunActions } from './run-actions.js';

function Record({ run }: { run: RunJson }) {
  const rows: [string, ReactNode][] = [
    ['Pipeline', `${run.pipeline.name}@${run.pipeline.version}`],
    ['Collection', run.collection ?? '-'],
    ['Policy', run.policy],
    ['Params', <code key="p">{JSON.stringify(run.params)}</code>],
    [
      'Tools',
      Object.entries(run.toolVersions)
        .map(([step, t]) => `${step}: ${t.name} ${t.version}`)
        .join(', '),
    ],
    ['Parent run', run.parentRunId ? <Link href={`/runs/${run.parentRunId}`}>{run.parentRunId}</Link> : '-'],
    ['Workers', run.workers],
    ['Max attempts', run.maxAttempts],
    ['Item timeout', `${run.itemTimeoutSec} s`],
    ['Min free', `${run.minFree.spec} (${formatBytes(run.minFree.bytes)})`],
    ['Force', run.force ? 'yes' : 'no'],
    ['Seed', run.seed],
    ['Host', run.host],
    ['Created', formatTime(run.createdAt)],
    ['Started', formatTime(run.stats.startedAt)],
    ['Finished', formatTime(run.stats.finishedAt)],
  ];
  return (
    <table className="table facts" data-testid="record">
      <tbody>
        {rows.map(([k, v]) => (
          <tr key={k}>
            <th>{k}</th>
            <td>{v}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The benchmark record: every figure the run wrote in words, per-step timings as a small table. */
function Figures({ stats }: { stats: RunJson['stats'] }) {
  const { steps, ...rest } = stats as Record<string, unknown>;
  delete rest.startedAt;
  delete rest.finishedAt;
  const perStep = (steps ?? {}) as Record<string, Record<string, unknown>>;
  const entries = Object.entries(rest);
  if (entries.length === 0 && Object.keys(perStep).length === 0)
    return <p className="muted">Figures are written when the run stops.</p>;
  return (
    <>
      <table className="table facts" data-testid="figures">
        <tbody>
          {entries.map(([k, v]) => (
            <tr key={k} data-figure={k}>
              <th>{figureLabel(k)}</th>
              <td>{figureValue(k, v)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {Object.keys(perStep).length > 0 && (
        <table className="table" data-testid="step-figures">
          <thead>
            <tr>
              <th>Step</th>
              {Object.keys(Object.values(perStep)[0] ?? {}).map((k) => (
                <th key={k}>{figureLabel(k)}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {Object.entries(perStep).map(([step, figures]) => (
              <tr key={step}>
                <td>{step}</td>
                {Object.entries(figures).map(([k, v]) => (
                  <td key={k}>{figureValue(k, v)}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

/**
 * Every worker process that took part, on any host, by host: what it claimed and did, what it gave back
 * untouched, the completions refused because its lease had been taken over (a host cut off, then back),
 * and when it was last heard. Failed counts failed attempts, so a retried item counts once per attempt.
 */
function Workers({ workers }: { workers: RunJson['workerStats'] }) {
  if (workers.length === 0) return <p className="muted">No worker has claimed an item yet.</p>;
  const sorted = [...workers].sort(
    (a, b) => a.host.localeCompare(b.host) || a.worker.localeCompare(b.worker),
  );
  return (
    <table className="table workers" data-testid="run-workers">
      <thead>
        <tr>
          <th>Host</th>
          <th>Worker</th>
          <th>Claimed</th>
          <th>Done</th>
          <th>Failed</th>
          <th>Skipped</th>
          <th>Given back</th>
          <th>Refused</th>
          <th>Last heartbeat</th>
        </tr>
      </thead>
      <tbody>
        {sorted.map((w) => (
          <tr key={w.worker} data-host={w.host}>
            <td>{w.host}</td>
            <td>{w.worker}</td>
            <td>{w.claimed}</td>
            <td>{w.done}</td>
            <td>{w.failed}</td>
            <td>{w.skipped}</td>
            <td>{w.released}</td>
            <td>{w.refused}</td>
            <td>{new Date(w.lastHeartbeatAt).toLocaleString()}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * One run: live coverage from the progress stream, its record, failures grouped by reason, the buttons
 * to cancel, resume and retry failed items, and its figures.
 */
export function RunPage({ id }: { id: string }) {
  const [generation, setGeneration] = useState(0);
  const { snapshot, ended } = useRunEvents(id, generation);
  const run = useJson<RunJson & { inProgress?: number }>(`/api/runs/${encodeURIComponent(id)}`);
  const { reload } = run;
  const lastReload = useRef(0);

  // Each progress event (at most every ~500 ms) refreshes the full record, failures included.
  useEffect(() => {
    if (!snapshot && !ended) return;
    const wait = Math.max(0, 700 - (Date.now() - lastReload.current));
    const timer = window.setTimeout(() => {
      lastReload.current = Date.now();
      reload();
    }, wait);
    return () => window.clearTimeout(timer);
  }, [snapshot, ended, reload]);

  if (run.error) return <Problem error={run.error} />;
  const r = run.data;
  if (!r) return <p className="muted">Loading…</p>;
  const status = snapshot?.status ?? r.status;
  const steps = snapshot?.steps ?? r.steps;
  const counts = snapshot?.counts ?? r.counts;
  const inProgress = snapshot?.inProgress ?? r.inProgress ?? 0;
  return (
    <div className="run-page" data-testid="run-page" data-run-id={r.id}>
      <div className="page-head">
        <h1>Run {r.id}</h1>
        <StatusBadge status={status} />
        {(snapshot?.statusReason ?? r.statusReason) && (
          <span className="muted">{snapshot?.statusReason ?? r.statusReason}</span>
        )}
        {r.parentRunId && (
          <Link href={`/compare?a=${r.parentRunId}&b=${r.id}`} className="link-button">
            Compare with {r.parentRunId}
          </Link>
        )}
      </div>
      <RunActions run={{ ...r, status, counts }} onChanged={() => setGeneration((g) => g + 1)} />
      <h2>Coverage</h2>
      <CoverageLegend />
      <div className="coverage-list">
        {Object.entries(steps).map(([step, c]) => (
          <CoverageBar key={step} label={step} counts={c} claimedOnly />
        ))}
        <CoverageBar label="all steps" counts={counts} inProgress={inProgress} />
      </div>
      <h2>Failures ({r.failures.length})</h2>
      <FailuresList failures={r.failures} />
      <h2>Workers ({r.workerStats.length})</h2>
      <Workers workers={r.workerStats} />
      <div className="two-columns">
        <div>
          <h2>Record</h2>
          <Record run={r} />
        </div>
        <div>
          <h2>Figures</h2>
          <Figures stats={r.stats} />
        </div>
      </div>
    </div>
  );
}
