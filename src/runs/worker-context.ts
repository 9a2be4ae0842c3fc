import { cacheKeyOf } from '../artifacts/cache-key.js';
import type { Home } from '../home/home.js';
import type { PipelineDefinition, StepDefinition } from '../pipeline/step.js';
import type { RunRow } from '../store/schema.js';
import type { RunLog } from './run-log.js';
import type { SourceRoots } from './source-mapping.js';
import type { WorkerMessage } from './worker-messages.js';

/** What a worker is and works for: shared by the worker loop and the item processor. */
export interface WorkerContext {
  home: Home;
  run: RunRow;
  pipeline: PipelineDefinition;
  workerId: string;
  /** Fires when the coordinator (or a signal) asks this worker to stop: no more claims. */
  stop: AbortSignal;
  /** Fires a grace period after `stop`: in-flight steps are aborted and their items given back. */
  abortWork: AbortSignal;
  send: (message: WorkerMessage) => void;
  log: RunLog;
  now?: () => number;
  /**
   * A write was refused by a full disk (`what` was being written): the worker stops at once, gives back
   * what it holds without charging an attempt, and the run pauses (set by the worker loop).
   */
  diskFull?: (what: string, error: unknown) => void;
  /** Where this host sees each source (`archivist worker --map`): a worker on another host. */
  sourceRoots?: SourceRoots;
  /**
   * How to wait when items remain but none can be claimed yet; a short poll by default. A worker on
   * another host waits for a wake-up hint or its poll interval (standalone-worker.ts).
   */
  idleWait?: (signal: AbortSignal) => Promise<void>;
}

/**
 * A step as this worker runs it in this run: its params (parsed once from the run) and its tool with the
 * version this worker found (what goes into lineage and the cache key).
 */
export interface StepPlan {
  step: StepDefinition;
  tool: { name: string; version: string };
  params: Record<string, unknown>;
  /** The earlier steps whose artifacts it needs (none: its cache key is known at claim time). */
  needs: readonly string[];
  /** It reads the asset's sidecars: their hashes are part of its key (known once they are looked up). */
  readsSidecars: boolean;
}

/** Every step's plan; tool versions are asked once and all at once (each may start a program). */
export async function planSteps(pipeline: PipelineDefinition, run: RunRow): Promise<Map<string, StepPlan>> {
  const params = JSON.parse(run.params_json) as Record<string, Record<string, unknown>>;
  const plans = await Promise.all(
    pipeline.steps.map(async (step): Promise<[string, StepPlan]> => [
      step.name,
      {
        step,
        tool: { name: step.tool.name, version: await step.tool.version() },
        params: params[step.name] ?? {},
        needs: step.needs ?? [],
        readsSidecars: step.readsSidecars === true,
      },
    ]),
  );
  return new Map(plans);
}

/**
 * The cache key of an item: its step's plan applied to the asset's content, its inputs' content and, for
 * a step that reads them, its sidecars' content (marked, so a sidecar hash never poses as an input).
 */
export function cacheKeyOfItem(
  plan: StepPlan,
  assetId: string,
  inputSha256: readonly string[] = [],
  sidecarSha256: readonly string[] = [],
): string {
  return cacheKeyOf({
    step: plan.step.name,
    tool: plan.tool,
    params: plan.params,
    inputSha256: [assetId, ...inputSha256, ...sidecarSha256.map((sha) => `sidecar:${sha}`)],
  });
}

export function needsOf(pipeline: PipelineDefinition): Record<string, readonly string[]> {
  return Object.fromEntries(pipeline.steps.map((step) => [step.name, step.needs ?? []]));
}
