import { useState } from 'react';
import { postJson, type RunJson } from '../api.js';
import { Problem } from '../components/problem.js';
import { navigate } from '../router.js';

const ACTIVE = new Set(['queued', 'running', 'cancelling']);

/**
 * Cancel, resume, promote and retry-failed for one run, through the same requests as `archivist run
 * cancel|resume|promote|retry --failed-only`. A retry may change params (`step.param=value`, space separated).
 */
export function RunActions({ run, onChanged }: { run: RunJson; onChanged: () => void }) {
  const [error, setError] = useState<Error>();
  const [busy, setBusy] = useState(false);
  const [retrySet, setRetrySet] = useState('');
  const act = (url: string, body: unknown, then?: (run: RunJson) => void) => {
    setBusy(true);
    postJson<RunJson>(url, body).then(
      (result) => {
        setError(undefined);
        setBusy(false);
        onChanged();
        then?.(result);
      },
      (e: unknown) => {
        setError(e as Error);
        setBusy(false);
      },
    );
  };
  const active = ACTIVE.has(run.status);
  const canCancel = run.status === 'queued' || run.status === 'running';
  const canResume = !active && run.status !== 'completed' && run.counts.pending + run.counts.failed > 0;
  const canRetry = !active && run.counts.failed > 0;
  // A stopped sandbox run's results can be kept as they are (run promote): nothing is computed again.
  const canPromote = !active && run.policy === 'sandbox' && run.counts.done > 0;
  const id = encodeURIComponent(run.id);
  return (
    <div className="run-actions">
      <button
        type="button"
        disabled={busy || !canCancel}
        onClick={() => act(`/api/runs/${id}/cancel`, {})}
        data-testid="cancel"
      >
        Cancel
      </button>
      <button
        type="button"
        disabled={busy || !canResume}
        onClick={() => act(`/api/runs/${id}/resume`, {})}
        data-testid="resume"
      >
        Resume
      </button>
      {run.policy === 'sandbox' && (
        <button
          type="button"
          disabled={busy || !canPromote}
          data-testid="promote"
          title="Keep these results as production ones, without computing them again"
          onClick={() => act(`/api/runs/${id}/promote`, {}, (next) => navigate(`/runs/${next.id}`))}
        >
          Keep as production
        </button>
      )}
      <span className="retry">
        <button
          type="button"
          disabled={busy || !canRetry}
          data-testid="retry-failed"
          onClick={() =>
            act(
              `/api/runs/${id}/retry`,
              { failedOnly: true, set: retrySet.split(/\s+/).filter(Boolean) },
              (next) => navigate(`/runs/${next.id}`),
            )
          }
        >
          Retry failed items
        </button>
        <input
          name="retrySet"
          value={retrySet}
          size={24}
          placeholder="with step.param=value …"
          disabled={!canRetry}
          onChange={(e) => setRetrySet(e.target.value)}
        />
      </span>
      <Problem error={error} />
    </div>
  );
}
