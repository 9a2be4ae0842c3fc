import type { StepCounts } from '../api.js';

const PARTS = ['done', 'running', 'pending', 'failed', 'skipped'] as const;

/**
 * One step's coverage as a stacked bar: done, running, pending, failed, skipped, with the numbers.
 * `running` is every item a worker holds; where the page knows how many of them are being processed
 * now (`inProgress`), the rest are said to be claimed ahead (a worker claims quick items in batches),
 * and a step's own bar (`claimedOnly`) says "claimed" rather than suggest that many run at once.
 */
export function CoverageBar({
  label,
  counts,
  inProgress,
  claimedOnly,
}: {
  label: string;
  counts: StepCounts;
  inProgress?: number;
  claimedOnly?: boolean;
}) {
  const total = Math.max(counts.total, 1);
  const title =
    PARTS.map((p) => `${counts[p]} ${p}`).join(', ') + (counts.reused ? ` (${counts.reused} reused)` : '');
  return (
    <div className="coverage" data-testid={`coverage-${label}`} title={title}>
      <span className="coverage-label">{label}</span>
      <span className="coverage-bar" role="img" aria-label={`${label}: ${title}`}>
        {PARTS.map((part) =>
          counts[part] > 0 ? (
            <span
              key={part}
              className={`seg seg-${part}`}
              style={{ width: `${(counts[part] / total) * 100}%` }}
            />
          ) : null,
        )}
      </span>
      <span className="coverage-numbers">
        <b data-testid={`done-${label}`}>{counts.done}</b>/{counts.total}
        {counts.failed > 0 && <span className="num-failed"> · {counts.failed} failed</span>}
        {counts.running > 0 && inProgress !== undefined ? (
          <span className="num-running" data-testid={`running-${label}`}>
            {' '}
            · {Math.min(inProgress, counts.running)} in progress
            {counts.running > inProgress && ` · ${counts.running - inProgress} claimed ahead`}
          </span>
        ) : (
          counts.running > 0 && (
            <span className="num-running">
              {' '}
              · {counts.running} {claimedOnly ? 'claimed' : 'running'}
            </span>
          )
        )}
        {counts.pending > 0 && <span className="num-pending"> · {counts.pending} pending</span>}
        {counts.skipped > 0 && <span className="num-skipped"> · {counts.skipped} skipped</span>}
      </span>
    </div>
  );
}

export function CoverageLegend() {
  return (
    <div className="legend">
      {PARTS.map((part) => (
        <span key={part}>
          <span className={`swatch seg-${part}`} /> {part}
        </span>
      ))}
    </div>
  );
}
