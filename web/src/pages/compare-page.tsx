import type { ReactNode } from 'react';
import type { RunComparison, RunSummary } from '../api.js';
import { Problem } from '../components/problem.js';
import { StatusBadge } from '../components/status-badge.js';
import { figureLabel, figureValue } from '../figures.js';
import { show } from '../format.js';
import { useJson } from '../hooks.js';
import { Link, navigate, useLocation } from '../router.js';

function Row({ label, a, b, differ }: { label: ReactNode; a: ReactNode; b: ReactNode; differ?: boolean }) {
  return (
    <tr className={differ ? 'differs' : undefined}>
      <th>{label}</th>
      <td>{a}</td>
      <td>{b}</td>
    </tr>
  );
}

function Section({ title }: { title: string }) {
  return (
    <tr className="section">
      <th colSpan={3}>{title}</th>
    </tr>
  );
}

/** Two runs side by side, as `archivist run compare`: params, tools, coverage, failure reasons, speed. */
export function ComparePage() {
  const { query } = useLocation();
  const a = query.get('a') ?? '';
  const b = query.get('b') ?? '';
  const runs = useJson<RunSummary[]>('/api/runs').data ?? [];
  const comparison = useJson<RunComparison>(
    a && b ? `/api/runs/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}` : null,
  );
  const pick = (side: 'a' | 'b', id: string) => {
    const next = new URLSearchParams({ a, b, [side]: id });
    navigate(`/compare?${next.toString()}`, { replace: true });
  };
  const chooser = (side: 'a' | 'b', value: string) => (
    <select name={side} value={value} onChange={(e) => pick(side, e.target.value)}>
      <option value="">choose a run</option>
      {runs.map((r) => (
        <option key={r.id} value={r.id}>
          {r.id} {r.pipeline.name}@{r.pipeline.version} {r.status}
        </option>
      ))}
    </select>
  );
  const c = comparison.data;
  return (
    <div className="compare-page">
      <h1>Compare runs</h1>
      <p>
        {chooser('a', a)} with {chooser('b', b)}
      </p>
      <Problem error={comparison.error} />
      {c && (
        <>
          <p className="verdict" data-testid="verdict">
            Faster per item: <b>{c.faster ?? 'no clear difference'}</b>. More reliable:{' '}
            <b>{c.moreReliable ?? 'no clear difference'}</b>.{' '}
            {c.params.length === 0
              ? 'Same params.'
              : `Params differ in ${c.params.map((d) => d.key).join(', ')}.`}
          </p>
          {c.notes.map((note) => (
            <p key={note} className="muted" data-testid="compare-note">
              {note}
            </p>
          ))}
          <p className="muted">
            Scopes: {c.scopeLabels.a} ({c.scope.a} assets) and {c.scopeLabels.b} ({c.scope.b} assets)
            {c.scope.same ? ', the same assets' : `, ${c.scope.shared} in common`}.
          </p>
          <table className="table compare" data-testid="compare">
            <thead>
              <tr>
                <th />
                <th>
                  <Link href={`/runs/${c.a.id}`}>{c.a.id}</Link>
                </th>
                <th>
                  <Link href={`/runs/${c.b.id}`}>{c.b.id}</Link>
                </th>
              </tr>
            </thead>
            <tbody>
              <Row
                label="Status"
                a={<StatusBadge status={c.a.status} />}
                b={<StatusBadge status={c.b.status} />}
              />
              <Row
                label="Pipeline"
                a={`${c.a.pipeline.name}@${c.a.pipeline.version}`}
                b={`${c.b.pipeline.name}@${c.b.pipeline.version}`}
              />
              <Row label="Policy" a={c.a.policy} b={c.b.policy} differ={c.a.policy !== c.b.policy} />
              <Row label="Collection" a={c.a.collection ?? '-'} b={c.b.collection ?? '-'} />
              <Section title="Params that differ" />
              {c.params.length === 0 && <Row label="(none)" a="" b="" />}
              {c.params.map((d) => (
                <Row key={d.key} label={d.key} a={show(d.a)} b={show(d.b)} differ />
              ))}
              <Section title="Tool versions that differ" />
              {c.toolVersions.length === 0 && <Row label="(none)" a="" b="" />}
              {c.toolVersions.map((d) => (
                <Row key={d.key} label={d.key} a={show(d.a)} b={show(d.b)} differ />
              ))}
              <Section title="Coverage" />
              {Object.entries(c.counts).map(([k, v]) => (
                <Row
                  key={k}
                  label={figureLabel(k)}
                  a={figureValue(k, v.a)}
                  b={figureValue(k, v.b)}
                  differ={v.a !== v.b}
                />
              ))}
              <Section title="Failures by reason" />
              {Object.keys(c.failureReasons).length === 0 && <Row label="(none)" a="" b="" />}
              {Object.entries(c.failureReasons).map(([k, v]) => (
                <Row key={k} label={k} a={v.a} b={v.b} differ={v.a !== v.b} />
              ))}
              <Section title="Timing" />
              {Object.entries(c.timing).map(([k, v]) => (
                <Row
                  key={k}
                  label={figureLabel(k)}
                  a={figureValue(k, v.a)}
                  b={figureValue(k, v.b)}
                  differ={v.a !== v.b}
                />
              ))}
            </tbody>
          </table>
        </>
      )}
    </div>
  );
}
