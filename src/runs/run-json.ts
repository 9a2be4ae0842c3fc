import type { Db } from '../store/database.js';
import type { RunRow } from '../store/schema.js';
import { failedItemsOfRun, runCoverage, type StepCounts } from '../store/run-outcomes-repository.js';
import { listRuns } from '../store/runs-repository.js';
import { workerStatsOfRun, type WorkerStats } from '../store/run-workers-repository.js';

export interface FailureJson {
  itemId: number;
  assetId: string;
  path: string | null;
  step: string;
  attempts: number;
  reason: string;
  message: string | null;
  stderrTail: string | null;
}

/** The run JSON of PRODUCT section 5, shared by the CLI and the API. */
export interface RunJson {
  id: string;
  status: RunRow['status'];
  statusReason: string | null;
  pipeline: { name: string; version: number };
  policy: RunRow['policy'];
  params: Record<string, Record<string, unknown>>;
  toolVersions: Record<string, { name: string; version: string }>;
  collection: string | null;
  scope: unknown;
  parentRunId: string | null;
  minFree: { bytes: number; spec: string };
  workers: number;
  maxAttempts: number;
  itemTimeoutSec: number;
  force: boolean;
  seed: number;
  host: string;
  createdAt: string;
  counts: StepCounts;
  steps: Record<string, StepCounts>;
  failures: FailureJson[];
  /** Every worker process that took part, on any host; `refused` counts its fenced late completions. */
  workerStats: WorkerStats[];
  stats: Record<string, unknown> & { startedAt: string | null; finishedAt: string | null };
}

export async function runFailures(db: Db, runId: string, limit?: number): Promise<FailureJson[]> {
  return (await failedItemsOfRun(db, runId, limit)).map((row) => ({
    itemId: row.id,
    assetId: row.asset_id,
    path: row.path,
    step: row.step,
    attempts: row.attempts,
    reason: row.reason ?? 'unknown',
    message: row.message,
    stderrTail: row.stderr_tail,
  }));
}

export async function toRunJson(db: Db, run: RunRow): Promise<RunJson> {
  const coverage = await runCoverage(db, run.id);
  const stats = run.stats_json ? (JSON.parse(run.stats_json) as Record<string, unknown>) : {};
  return {
    id: run.id,
    status: run.status,
    statusReason: run.status_reason,
    pipeline: { name: run.pipeline_name, version: run.pipeline_version },
    policy: run.policy,
    params: JSON.parse(run.params_json) as RunJson['params'],
    toolVersions: JSON.parse(run.tool_versions_json) as RunJson['toolVersions'],
    collection: run.collection_name,
    scope: JSON.parse(run.scope_json) as unknown,
    parentRunId: run.parent_run_id,
    minFree: { bytes: run.min_free_bytes, spec: run.min_free_spec },
    workers: run.workers,
    maxAttempts: run.max_attempts,
    itemTimeoutSec: run.item_timeout_ms / 1000,
    force: run.force === 1,
    seed: run.seed,
    host: run.host,
    createdAt: run.created_at,
    counts: coverage.total,
    steps: coverage.steps,
    failures: await runFailures(db, run.id),
    workerStats: await workerStatsOfRun(db, run.id),
    stats: { ...stats, startedAt: run.started_at, finishedAt: run.finished_at },
  };
}

/** `run list --json` and `GET /api/runs`: runs newest first, each with its coverage. */
export async function runListJson(db: Db, limit?: number) {
  return Promise.all(
    (await listRuns(db, limit)).map(async (row) => {
      const coverage = await runCoverage(db, row.id);
      return {
        id: row.id,
        status: row.status,
        statusReason: row.status_reason,
        pipeline: { name: row.pipeline_name, version: row.pipeline_version },
        policy: row.policy,
        collection: row.collection_name,
        parentRunId: row.parent_run_id,
        /** Set when the run keeps a sandbox run's results (run promote) rather than retrying it. */
        promotedFrom: promotedFromOf(row.stats_json),
        createdAt: row.created_at,
        startedAt: row.started_at,
        finishedAt: row.finished_at,
        counts: coverage.total,
        steps: coverage.steps,
      };
    }),
  );
}

function promotedFromOf(statsJson: string | null): string | null {
  if (!statsJson) return null;
  const stats = JSON.parse(statsJson) as { promotedFrom?: unknown };
  return typeof stats.promotedFrom === 'string' ? stats.promotedFrom : null;
}
