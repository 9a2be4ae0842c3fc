import path from 'node:path';
import type { WorkItemRow } from '../store/schema.js';
import { inputsOfItem } from '../store/work-items-repository.js';
import { ItemLookups } from './item-lookups.js';
import type { ItemJob, ItemOutcome } from './item-job.js';
import type { PendingCompletions } from './pending-completions.js';
import { failedForFullDisk, OutcomeRecorder } from './record-outcome.js';
import { runItemStep, type StepRunner } from './run-step.js';
import { cacheKeyOfItem, needsOf, type StepPlan, type WorkerContext } from './worker-context.js';

export type { ItemOutcome };

/**
 * Processes the items of one worker, one at a time: reuse an identical artifact if there is one, else
 * run the step under its timeout and the run's cancel (run-step.ts), and record done, skipped or failed
 * (record-outcome.ts). Made once per worker, with what every item shares.
 */
export class ItemProcessor {
  private readonly lookups: ItemLookups;
  private readonly runner: StepRunner;
  private readonly record: OutcomeRecorder;
  /** Cache keys computed when a batch was claimed, by item id (items whose key needs no inputs). */
  private readonly keys = new Map<number, string>();
  private current: ItemJob | null = null;

  constructor(
    private readonly context: WorkerContext,
    private readonly plans: ReadonlyMap<string, StepPlan>,
    completions: PendingCompletions,
    private readonly scratchDir: string,
  ) {
    this.lookups = new ItemLookups(context.home, context.run, context.sourceRoots);
    this.runner = { lookups: this.lookups, scratchDir, itemTimeoutMs: context.run.item_timeout_ms };
    this.record = new OutcomeRecorder(context, completions, needsOf(context.pipeline));
  }

  planOf(item: WorkItemRow): StepPlan {
    const plan = this.plans.get(item.step);
    if (!plan) throw new Error(`run ${this.context.run.id} has items of unknown step ${item.step}`);
    return plan;
  }

  /** Reads what a claimed batch needs in a few queries instead of a few per item. */
  async prefetch(items: readonly WorkItemRow[]): Promise<void> {
    this.keys.clear();
    // Loaded afresh for every batch (an empty batch clears what an earlier one loaded).
    const readers = items.filter((item) => this.planOf(item).readsSidecars);
    await this.lookups.prefetchSidecars(readers.map((i) => i.asset_id));
    for (const item of items) {
      const plan = this.planOf(item);
      // An item with inputs has a key only once they exist (made by earlier items).
      if (plan.needs.length > 0) continue;
      const sidecars = plan.readsSidecars ? await this.lookups.sidecars(item.asset_id) : [];
      this.keys.set(
        item.id,
        cacheKeyOfItem(
          plan,
          item.asset_id,
          [],
          sidecars.map((s) => s.sha256),
        ),
      );
    }
    await this.lookups.prefetch(
      items.map((i) => i.asset_id),
      this.context.run.force ? [] : [...this.keys.values()],
    );
  }

  /** The heartbeat found the lease of the item in hand taken over: stop working on it. */
  leaseLost(itemId: number): void {
    if (this.current?.item.id === itemId) this.current.abort.abort(new Error('lease lost'));
  }

  async process(item: WorkItemRow): Promise<ItemOutcome> {
    const { context } = this;
    const abort = new AbortController();
    const onStop = () => abort.abort(new Error('stopped'));
    context.abortWork.addEventListener('abort', onStop);
    const timeout = setTimeout(() => abort.abort(new Error('timeout')), context.run.item_timeout_ms);
    try {
      const job = await this.prepare(item, abort);
      this.current = job;
      const reusable = context.run.force ? undefined : await this.lookups.reusable(job.cacheKey);
      if (reusable) return this.record.reused(job, reusable);
      const { file, outcome } = await runItemStep(this.runner, job);
      if (outcome.status === 'failed' && failedForFullDisk(outcome, this.scratchDir)) {
        // The tool could not write its intermediate file: the disk, not the file, failed. No attempt is
        // charged; the run pauses (the release below is what abortWork leads to).
        context.diskFull?.(`running ${job.plan.step.name}`, new Error(outcome.message));
      }
      // Cancelled or paused while working: give the item back untouched, it did nothing wrong.
      if (context.abortWork.aborted) return await this.record.released(job);
      switch (outcome.status) {
        case 'skipped':
          return await this.record.skipped(job, outcome.reason, outcome.message);
        case 'failed':
          return await this.record.failed(job, file, outcome);
        case 'done':
          return await this.record.done(job, file, outcome.output ?? null, outcome.decoder);
      }
    } finally {
      this.current = null;
      clearTimeout(timeout);
      context.abortWork.removeEventListener('abort', onStop);
    }
  }

  /** The item's asset, inputs and sidecars, and its cache key (from the claim when it was known then). */
  private async prepare(item: WorkItemRow, abort: AbortController): Promise<ItemJob> {
    const started = (this.context.now ?? Date.now)();
    const plan = this.planOf(item);
    const asset = await this.lookups.asset(item.asset_id);
    const inputs = (await inputsOfItem(this.context.home.db, item, plan.needs)).map((row) => ({
      step: row.step,
      artifactId: row.id,
      file: path.join(this.context.home.layout.artifacts, ...row.path.split('/')),
      sha256: row.sha256,
    }));
    const sidecars = plan.readsSidecars ? await this.lookups.sidecars(asset.id) : [];
    const cacheKey =
      this.keys.get(item.id) ??
      cacheKeyOfItem(
        plan,
        asset.id,
        inputs.map((i) => i.sha256),
        sidecars.map((s) => s.sha256),
      );
    return { item, plan, asset, inputs, sidecars, cacheKey, started, abort };
  }
}
