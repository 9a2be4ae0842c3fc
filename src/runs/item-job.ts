import type { SidecarInput, StepInput, StepOutcome } from '../pipeline/step.js';
import type { AssetRow, WorkItemRow } from '../store/schema.js';
import type { StepPlan } from './worker-context.js';
import type { WorkerMessage } from './worker-messages.js';

/** How an item ended for this worker, as it tells the coordinator. */
export type ItemOutcome = Extract<WorkerMessage, { type: 'finished' }>['outcome'];

export type FailedOutcome = Extract<StepOutcome, { status: 'failed' }>;

/**
 * One item in hand: what looking up, running and recording it share. Made once per item, so its params
 * (the plan's, parsed once per worker) and its cache key are computed once.
 */
export interface ItemJob {
  item: WorkItemRow;
  plan: StepPlan;
  asset: AssetRow;
  inputs: StepInput[];
  sidecars: SidecarInput[];
  cacheKey: string;
  started: number;
  /** Aborts the step: the run's cancel (after the grace), the item's timeout, or a lost lease. */
  abort: AbortController;
}

/** What running a step gave, with the original it read (as text, for logs), if any. */
export interface StepResult {
  file: string | null;
  outcome: StepOutcome;
}

/** A metadata step's result carries capture facts (asset_facts) with it. */
export function isMetadata(job: ItemJob): boolean {
  return job.plan.step.artifactKind === 'metadata';
}

/** An error as one short line, for a failure's message. */
export function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0]!.slice(0, 500);
}
