import os from 'node:os';
import type { Db } from '../store/database.js';
import { insertRun } from '../store/runs-repository.js';
import type { MediaType, Policy } from '../store/schema.js';
import type { ResolvedParams } from '../pipeline/params.js';
import type { PipelineDefinition } from '../pipeline/step.js';
import { seededRank } from './collections.js';
import { newRunId } from './run-id.js';

export interface RunPlan {
  pipeline: PipelineDefinition;
  params: ResolvedParams;
  toolVersions: Record<string, { name: string; version: string }>;
  collectionName: string | null;
  /** The filters the scope came from, kept for the record; the scope itself is the work items. */
  scope: unknown;
  assets: readonly { id: string; mediaType: MediaType }[];
  policy: Policy;
  minFree: { bytes: number; spec: string };
  workers: number;
  maxAttempts: number;
  itemTimeoutMs: number;
  /** Recorded on the run, so that every host's workers give its sandbox results the same expiry. */
  sandboxRetentionDays?: number;
  force: boolean;
  seed: number;
  parentRunId: string | null;
}

/**
 * Every step's tool version, found now: the run records what will actually do the work. Asked in
 * parallel: each may start a program (`ffmpeg -version`), and the wait is before the run's first item.
 */
export async function detectToolVersions(pipeline: PipelineDefinition): Promise<RunPlan['toolVersions']> {
  const found = await Promise.all(
    pipeline.steps.map(async (step) => [
      step.name,
      { name: step.tool.name, version: await step.tool.version() },
    ]),
  );
  return Object.fromEntries(found) as RunPlan['toolVersions'];
}

/** Plans the run's frozen scope, one work item per (asset, step), and writes it with the run at once. */
export async function createRun(db: Db, plan: RunPlan): Promise<string> {
  const id = newRunId();
  const items = plan.assets.flatMap((asset, index) => {
    // Sandbox runs go in a seeded shuffled order, so the first results represent the whole scope.
    const orderKey =
      plan.policy === 'sandbox' ? Number.parseInt(seededRank(plan.seed, asset.id).slice(0, 12), 16) : index;
    return plan.pipeline.steps.map((step, stepIndex) => {
      const applies = step.mediaTypes.includes(asset.mediaType);
      return {
        asset_id: asset.id,
        step: step.name,
        step_index: stepIndex,
        order_key: orderKey,
        status: applies ? ('pending' as const) : ('skipped' as const),
        reason: applies ? null : 'not-applicable',
        message: applies ? null : `${step.name} does not apply to ${asset.mediaType} files`,
      };
    });
  });
  await insertRun(
    db,
    {
      id,
      pipeline_name: plan.pipeline.name,
      pipeline_version: plan.pipeline.version,
      params_json: JSON.stringify(plan.params),
      tool_versions_json: JSON.stringify(plan.toolVersions),
      collection_name: plan.collectionName,
      scope_json: JSON.stringify(plan.scope),
      policy: plan.policy,
      min_free_bytes: plan.minFree.bytes,
      min_free_spec: plan.minFree.spec,
      workers: plan.workers,
      max_attempts: plan.maxAttempts,
      item_timeout_ms: plan.itemTimeoutMs,
      sandbox_retention_days: plan.sandboxRetentionDays ?? null,
      force: plan.force ? 1 : 0,
      seed: plan.seed,
      parent_run_id: plan.parentRunId,
      host: os.hostname(),
      created_at: new Date().toISOString(),
    },
    items,
  );
  return id;
}
