import type { RunJson, StepCounts } from './types.js';

/** What `waitFor` predicates look at: a run's status and coverage. */
export type RunProgress = Pick<RunJson, 'status' | 'counts' | 'steps'>;

/** A run's status and coverage straight from the database, as `run show` counts them. */
export function progressOf(query: <T>(sql: string, ...params: unknown[]) => T[], runId: string): RunProgress {
  const [run] = query<{ status: RunJson['status'] }>('select status from runs where id = ?', runId);
  const rows = query<{ step: string; status: keyof StepCounts; reused: number; n: number }>(
    'select step, status, reused, count(*) as n from work_items where run_id = ? group by step, status, reused',
    runId,
  );
  const empty = (): StepCounts => ({
    total: 0,
    pending: 0,
    running: 0,
    done: 0,
    failed: 0,
    skipped: 0,
    reused: 0,
  });
  const counts = empty();
  const steps: Record<string, StepCounts> = {};
  for (const row of rows) {
    for (const target of [counts, (steps[row.step] ??= empty())]) {
      target.total += row.n;
      target[row.status] += row.n;
      if (row.reused) target.reused += row.n;
    }
  }
  return { status: run?.status ?? 'queued', counts, steps };
}
