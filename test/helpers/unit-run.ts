import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { PipelineDefinition, StepDefinition } from '../../src/pipeline/step.js';
import { createRun } from '../../src/runs/create-run.js';
import type { Db } from '../../src/store/database.js';

/**
 * A run made straight in the store, for unit tests of claims, completions and the queue: image assets
 * written as the catalog would, and a run of steps that do nothing, made by the real `createRun`.
 */

const tool = { name: 'unit-tool', version: () => Promise.resolve('1') };

/** A step that makes nothing; `needs` names the earlier steps whose artifacts it waits for. */
export function unitStep(name: string, needs?: string[]): StepDefinition {
  return {
    name,
    tool,
    artifactKind: name,
    mediaTypes: ['image'],
    params: z.object({}),
    ...(needs ? { needs } : {}),
    run: () => Promise.resolve({ status: 'done', output: null }),
  };
}

/** `count` new image assets, their ids hashed from `seed` (unique per test home) and their index. */
export async function insertImageAssets(db: Db, seed: string, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) =>
    createHash('sha256').update(`${seed} ${i}`).digest('hex'),
  );
  for (let i = 0; i < ids.length; i += 1000) {
    await db
      .insertInto('assets')
      .values(
        ids.slice(i, i + 1000).map((id) => ({
          id,
          size: 1,
          media_type: 'image' as const,
          mime: 'image/jpeg',
          first_seen_at: new Date().toISOString(),
        })),
      )
      .execute();
  }
  return ids;
}

/** A `queued` production run of `steps` (one step `a` by default) over the assets; its id. */
export function createUnitRun(
  db: Db,
  assetIds: readonly string[],
  options: { steps?: StepDefinition[]; workers?: number; maxAttempts?: number } = {},
): Promise<string> {
  const steps = options.steps ?? [unitStep('a')];
  const pipeline: PipelineDefinition = { name: 'unit', version: 1, description: 'unit', steps };
  return createRun(db, {
    pipeline,
    params: Object.fromEntries(steps.map((s) => [s.name, {}])),
    toolVersions: Object.fromEntries(steps.map((s) => [s.name, { name: tool.name, version: '1' }])),
    collectionName: null,
    scope: {},
    assets: assetIds.map((id) => ({ id, mediaType: 'image' as const })),
    policy: 'production',
    minFree: { bytes: 0, spec: '0' },
    workers: options.workers ?? 2,
    maxAttempts: options.maxAttempts ?? 3,
    itemTimeoutMs: 60_000,
    force: false,
    seed: 1,
    parentRunId: null,
  });
}
