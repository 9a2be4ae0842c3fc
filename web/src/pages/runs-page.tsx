import { useState } from 'react';
import type { RunSummary } from '../api.js';
import { CoverageBar, CoverageLegend } from '../components/coverage-bar.js';
import { Problem } from '../components/problem.js';
import { StatusBadge } from '../components/status-badge.js';
import { formatTime } from '../format.js';
import { useJson, useStatus } from '../hooks.js';
import { Link, navigate } from '../router.js';
import { StartRunForm } from './start-run-form.js';

/** The runs, newest first, with live coverage bars per step; pick two to compare. */
export function RunsPage() {
  const status = useStatus();
  const live = (status?.activeRuns.length ?? 0) > 0;
  const runs = useJson<RunSummary[]>('/api/runs', live ? 1000 : 5000);
  const [picked, setPicked] = useState<string[]>([]);
  const [showForm, setShowForm] = useState(false);
  const toggle = (id: string) =>
    setPicked((old) => (old.includes(id) ? old.filter((x) => x !== id) : [...old.slice(-1), id]));

  return (
    <div className="runs-page">
      <div className="page-head">
        <h1>Runs</h1>
        <button type="button" onClick={() => setShowForm((v) => !v)} data-testid="new-run">
          {showForm ? 'Close' : 'New run…'}
        </button>
        <button
          type="button"
          disabled={picked.length !== 2}
          onClick={() => navigate(`/compare?a=${picked[0]}&b=${picked[1]}`)}
          data-testid="compare-picked"
        >
          Compare the two ticked
        </button>
      </div>
      {showForm && <StartRunForm />}
      <Problem error={runs.error} />
      <CoverageLegend />
      <table className="table runs" data-testid="runs">
        <thead>
          <tr>
            <th />
            <th>Run</th>
            <th>Status</th>
            <th>Pipeline</th>
            <th>Policy</th>
            <th>Collection</th>
            <th>Coverage per step</th>
            <th>Created</th>
          </tr>
        </thead>
        <tbody>
          {(runs.data ?? []).map((run) => (
            <tr key={run.id} data-run-id={run.id}>
              <td>
                <input
                  type="checkbox"
                  aria-label={`pick ${run.id}`}
                  checked={picked.includes(run.id)}
                  onChange={() => toggle(run.id)}
                />
              </td>
              <td>
                <Link href={`/runs/${run.id}`}>{run.id}</Link>
                {run.parentRunId && (
                  <div className="muted">
                    {run.promotedFrom ? 'kept from' : 'retry of'} {run.parentRunId}
                  </div>
                )}
              </td>
              <td>
                <StatusBadge status={run.status} />
                {run.statusReason && <div className="muted small">{run.statusReason}</div>}
              </td>
              <td>
                {run.pipeline.name}@{run.pipeline.version}
              </td>
              <td>{run.policy}</td>
              <td>{run.collection ?? '-'}</td>
              <td className="bars">
                {Object.entries(run.steps).map(([step, counts]) => (
                  <CoverageBar key={step} label={step} counts={counts} />
                ))}
              </td>
              <td title={run.createdAt}>{formatTime(run.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {runs.data?.length === 0 && <p className="empty">No runs yet. Start one with “New run…”.</p>}
    </div>
  );
}
