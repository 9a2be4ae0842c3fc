import type { FailureJson } from '../api.js';
import { Link } from '../router.js';

/** Failures grouped by reason, each with the file, the step, the message and the tool's stderr tail. */
export function FailuresList({ failures }: { failures: FailureJson[] }) {
  if (failures.length === 0) return <p className="muted">No failed items.</p>;
  const groups = new Map<string, FailureJson[]>();
  for (const f of failures) groups.set(f.reason, [...(groups.get(f.reason) ?? []), f]);
  return (
    <div className="failures" data-testid="failures">
      {[...groups].map(([reason, list]) => (
        <section key={reason} className="failure-group" data-reason={reason}>
          <h3>
            {reason} <span className="muted">({list.length})</span>
          </h3>
          <ul>
            {list.map((f) => (
              <li key={f.itemId} data-testid="failure" data-asset-id={f.assetId}>
                <Link href={`/assets/${f.assetId}`} className="failure-path">
                  {f.path ?? f.assetId}
                </Link>{' '}
                <span className="muted">
                  step {f.step}, {f.attempts} attempt{f.attempts === 1 ? '' : 's'}
                </span>
                {f.message && <div className="failure-message">{f.message}</div>}
                {f.stderrTail && (
                  <details open={list.length <= 3}>
                    <summary>stderr tail</summary>
                    <pre className="stderr">{f.stderrTail}</pre>
                  </details>
                )}
              </li>
            ))}
          </ul>
        </section>
      ))}
    </div>
  );
}
