import type { StepCounts } from '../api.js';

const PARTS = ['done', 'running', 'pending', 'failed', 'skipped'] as const;

/** One step's coverage as a stacked bar: done, running, pending, failed, skipped, with the numbers. */
export function CoverageBar({ label, counts }: { label: string; counts: StepCounts }) {
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
        {counts.running > 0 && <span className="num-running"> · {counts.running} running</span>}
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
