import { captureFactsOfOutput, captureFactsOfStored } from '../artifacts/artifact-capture-facts.js';
import path from 'node:path';
import { pathText } from '../catalog/file-names.js';
import { pathForTools, SourceReadError, type ToolPath } from '../catalog/source-reader.js';
import { storeArtifactFile } from '../artifacts/artifact-store.js';
import type { SidecarInput, StepInput, StepOutcome, StepOutput } from '../pipeline/step.js';
import { RETRYABLE_REASONS } from '../pipeline/step.js';
import { transitionRun } from '../store/runs-repository.js';
import type { AssetRow, WorkItemRow } from '../store/schema.js';
import {
  inputsOfItem,
  leaseOf,
  releaseItems,
  skipItem,
  skipOrphanedDependents,
} from '../store/work-items-repository.js';
import { diskSpace, formatSize } from './disk-threshold.js';
import { isDiskFull, saysDiskFull } from './disk-full.js';
import { doneResult, type DoneFacts } from './done-result.js';
import { failWorkItem } from './finish-work-item.js';
import { ItemLookups, type FileLookup } from './item-lookups.js';
import type { PendingCompletions } from './pending-completions.js';
import { cacheKeyOfItem, needsOf, type StepPlan, type WorkerContext } from './worker-context.js';
import type { WorkerMessage } from './worker-messages.js';

export type ItemOutcome = Extract<WorkerMessage, { type: 'finished' }>['outcome'];

/** What running a step gave, with the original it read (as text, for logs), if any. */
interface StepResult {
  file: string | null;
  outcome: StepOutcome;
}

/** One item in hand: what its parts share. */
interface Job {
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

/**
 * Processes the items of one worker, one at a time: reuse an identical artifact if there is one, else
 * run the step under its timeout and the run's cancel, check the disk, store the output, and record done,
 * skipped or failed. Made once per worker, with what every item shares.
 */
export class ItemProcessor {
  private readonly lookups: ItemLookups;
  private readonly needs: Record<string, readonly string[]>;
  /** Cache keys computed when a batch was claimed, by item id (items whose key needs no inputs). */
  private readonly keys = new Map<number, string>();
  private current: Job | null = null;

  constructor(
    private readonly context: WorkerContext,
    private readonly plans: ReadonlyMap<string, StepPlan>,
    private readonly completions: PendingCompletions,
    private readonly scratchDir: string,
  ) {
    this.lookups = new ItemLookups(context.home, context.run, context.sourceRoots);
    this.needs = needsOf(context.pipeline);
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
      const sidecars = plan.readsSidecars ? await this.lookups.sidecars(item.asset_id) : [];
      // An item with inputs has a key only once they exist (made by earlier items).
      if (plan.needs.length === 0)
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
    const now = context.now ?? Date.now;
    const abort = new AbortController();
    const onStop = () => abort.abort(new Error('stopped'));
    context.abortWork.addEventListener('abort', onStop);
    const timeout = setTimeout(() => abort.abort(new Error('timeout')), context.run.item_timeout_ms);
    try {
      const job = await this.prepare(item, abort, now());
      this.current = job;
      if (!context.run.force) {
        const reused = await this.reuse(job);
        if (reused) return reused;
      }
      const { file, outcome } = await this.runStep(job);
      if (outcome.status === 'failed' && this.failedForDiskFull(outcome)) {
        // The tool could not write its intermediate file: the disk, not the file, failed. No attempt is
        // charged; the run pauses (the release below is what abortWork leads to).
        context.diskFull?.(`running ${job.plan.step.name}`, new Error(outcome.message));
      }
      if (context.abortWork.aborted) {
        // Cancelled or paused while working: give the item back untouched, it did nothing wrong.
        await releaseItems(context.home.db, {
          runId: context.run.id,
          itemId: item.id,
          owner: context.workerId,
        });
        return 'released';
      }
      switch (outcome.status) {
        case 'skipped':
          return (await skipItem(context.home.db, leaseOf(item), outcome.reason, outcome.message))
            ? 'skipped'
            : 'lost';
        case 'failed':
          return this.recordFailure(job, file, outcome);
        case 'done':
          return this.recordDone(job, file, outcome.output ?? null, outcome.decoder);
      }
    } finally {
      this.current = null;
      clearTimeout(timeout);
      context.abortWork.removeEventListener('abort', onStop);
    }
  }

  private async prepare(item: WorkItemRow, abort: AbortController, started: number): Promise<Job> {
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

  /** An identical artifact (same cache key) that this run may use: done, without running the step. */
  private async reuse(job: Job): Promise<ItemOutcome | null> {
    const reusable = await this.lookups.reusable(job.cacheKey);
    if (!reusable) return null;
    const { run } = this.context;
    this.completions.add(job.item, {
      durationMs: this.elapsed(job),
      artifact: { reusedId: reusable.id },
      makeCurrent:
        run.policy === 'production' ? { assetId: job.asset.id, kind: job.plan.step.artifactKind } : null,
      capture: isMetadata(job) ? captureFactsOfStored(this.context.home.layout, reusable.path) : undefined,
    });
    return 'reused';
  }

  private async runStep(job: Job): Promise<StepResult> {
    let lookup = await this.lookups.presentFile(job.asset.id);
    let result = await this.runStepOn(job, lookup);
    if (result.outcome.status === 'failed' && result.outcome.reason === 'source-missing') {
      // The file may have moved since the batch was claimed: a catalog run since then knows where to,
      // so one look at the catalog again before the item fails for a file that is only elsewhere now.
      const again = await this.lookups.presentFile(job.asset.id, true);
      if (again.found && again.found.file !== lookup.found?.file) {
        lookup = again;
        result = await this.runStepOn(job, lookup);
      }
    }
    const { outcome } = this.timedOut(job, result);
    if (outcome.status === 'failed' && outcome.reason === 'source-missing' && lookup.gone.length > 0) {
      // Name where the file was looked for: the location shown beside a failure is the catalog's current
      // one, which after a re-catalog is the new path, and the log needs the path that was really tried.
      const where = lookup.gone.join(', ');
      return {
        file: result.file ?? lookup.gone[0]!,
        outcome: {
          ...outcome,
          message: `not found at ${where}: moved or deleted since the catalog (run \`archivist catalog\`, then \`archivist run retry <run> --failed-only\`)`,
        },
      };
    }
    return { file: result.file, outcome };
  }

  private async runStepOn(job: Job, lookup: FileLookup): Promise<StepResult> {
    const { found } = lookup;
    // For logs and messages: the exact bytes of a name that is not UTF-8, as text (file-names.ts).
    const file = found === null ? null : pathText(found.file);
    if (!found) {
      return {
        file,
        outcome: {
          status: 'failed',
          reason: 'source-missing',
          message: 'no present location: the file is missing from every source',
          retryable: false,
        },
      };
    }
    let outcome: StepOutcome;
    let original: ToolPath | undefined;
    try {
      const { asset } = job;
      original = await pathForTools(found.file);
      outcome = await job.plan.step.run({
        asset: {
          id: asset.id,
          mediaType: asset.media_type,
          mime: asset.mime,
          size: asset.size,
          file: original.path,
          // The catalog's facts go with the path: the step checks the file against them (source-changed).
          mtimeNs: found.mtimeNs,
          inode: found.inode,
        },
        params: job.plan.params,
        inputs: job.inputs,
        sidecars: job.sidecars,
        signal: job.abort.signal,
        scratchDir: this.scratchDir,
      });
    } catch (error) {
      outcome =
        error instanceof SourceReadError
          ? {
              status: 'failed',
              reason: error.reason === 'not-found' ? 'source-missing' : 'io-error',
              message: oneLine(error),
              retryable: error.retryable,
            }
          : { status: 'failed', reason: 'step-error', message: oneLine(error), retryable: false };
    } finally {
      await original?.close();
    }
    return { file, outcome };
  }

  /** A step that ran out of time says so, whatever the tool reported when it was stopped. */
  private timedOut(job: Job, result: StepResult): StepResult {
    const reason: unknown = job.abort.signal.reason;
    if (!job.abort.signal.aborted || !(reason instanceof Error) || reason.message !== 'timeout')
      return result;
    return {
      file: result.file,
      outcome: {
        status: 'failed',
        reason: 'timeout',
        message: `took longer than ${this.context.run.item_timeout_ms / 1000} s`,
        retryable: true,
      },
    };
  }

  private async recordFailure(
    job: Job,
    file: string | null,
    outcome: Extract<StepOutcome, { status: 'failed' }>,
  ): Promise<ItemOutcome> {
    const { context } = this;
    const { item, asset, plan } = job;
    // Enough to rerun this item by hand: the file, the step, its params, the tool and what it said.
    context.log.warn(
      {
        event: 'item-failed',
        itemId: item.id,
        assetId: asset.id,
        file,
        step: plan.step.name,
        params: plan.params,
        tool: plan.tool,
        command: outcome.command ?? null,
        attempt: item.attempts,
        reason: outcome.reason,
        message: outcome.message,
        stderrTail: outcome.stderrTail ?? null,
      },
      `${plan.step.name} failed on ${file ?? asset.id}: ${outcome.reason}`,
    );
    const result = await failWorkItem(context.home.db, item.id, leaseOf(item), {
      reason: outcome.reason,
      message: outcome.message,
      stderrTail: outcome.stderrTail ?? null,
      // A tool killed by a signal (the OOM killer, a SIGKILL from outside, a crash) says nothing about
      // the file yet: tried again like a crashed worker, and quarantined only if it dies every time.
      retryable:
        KILLED_BY_SIGNAL.test(outcome.message) ||
        (outcome.retryable ?? RETRYABLE_REASONS.has(outcome.reason)),
      durationMs: this.elapsed(job),
    });
    if (result === 'failed') await skipOrphanedDependents(context.home.db, context.run.id, this.needs);
    return result;
  }

  private async recordDone(
    job: Job,
    file: string | null,
    output: StepOutput | null,
    decoder: string | undefined,
  ): Promise<ItemOutcome> {
    const { context } = this;
    const { home, run } = context;
    // Per-item success is debug-level: a 100,000-item run should not write 100,000 lines by default.
    context.log.debug(
      {
        event: 'item-done',
        itemId: job.item.id,
        assetId: job.asset.id,
        step: job.plan.step.name,
        durationMs: this.elapsed(job),
      },
      `${job.plan.step.name} done`,
    );
    if (!output) {
      this.completions.add(job.item, doneResult(this.facts(job, '', decoder), null));
      return 'done';
    }
    // Check the disk before every write: below the threshold the run pauses and nothing is failed.
    const space = diskSpace(home.layout.artifacts);
    if (space.free < run.min_free_bytes) {
      await transitionRun(home.db, run.id, ['running'], 'paused', {
        status_reason: `disk-threshold: ${freeVersusRequired(space.free, run.min_free_bytes)} (--min-free ${run.min_free_spec})`,
      });
      await releaseItems(home.db, { runId: run.id, itemId: job.item.id, owner: context.workerId });
      return 'released';
    }
    // The store goes on while this worker starts its next item; the row waits for the file (see
    // PendingCompletions). A file that cannot be stored fails this attempt, retryably.
    this.completions.addWhenStored(
      job.item,
      storeArtifactFile(home.layout, output).then((stored) =>
        doneResult(
          {
            ...this.facts(job, output.mime, decoder),
            // The facts row commits with the artifact becoming current.
            capture: isMetadata(job) ? captureFactsOfOutput(output, home.layout, stored.path) : undefined,
          },
          stored,
        ),
      ),
      async (error) => {
        if (isDiskFull(error)) {
          // ENOSPC while writing, fsyncing or renaming the file (its temp file is already removed): the
          // item did nothing wrong. It goes back without an attempt charged and the run pauses; on a
          // disk too full even for this release, the coordinator releases it when the run stops.
          context.diskFull?.('writing an artifact file', error);
          await releaseItems(home.db, { runId: run.id, itemId: job.item.id, owner: context.workerId }).catch(
            () => undefined,
          );
          return;
        }
        const message = `cannot store the artifact: ${oneLine(error)}`;
        context.log.warn(
          {
            event: 'item-failed',
            itemId: job.item.id,
            assetId: job.asset.id,
            step: job.plan.step.name,
            reason: 'io-error',
            message,
          },
          `${job.plan.step.name} failed on ${file ?? job.asset.id}: io-error`,
        );
        await failWorkItem(home.db, job.item.id, leaseOf(job.item), {
          reason: 'io-error',
          message,
          retryable: true,
          durationMs: this.elapsed(job),
        });
      },
    );
    return 'done';
  }

  /**
   * A failed step that failed because the home's disk is full: the tool said ENOSPC, or the disk holding
   * the scratch folder has (almost) nothing left, so the tool's "write error" was the disk's.
   */
  private failedForDiskFull(outcome: Extract<StepOutcome, { status: 'failed' }>): boolean {
    if (saysDiskFull(outcome.message) || saysDiskFull(outcome.stderrTail)) return true;
    try {
      return diskSpace(this.scratchDir).free < NEARLY_FULL_BYTES;
    } catch {
      return false;
    }
  }

  private facts(job: Job, mime: string, decoder: string | undefined): DoneFacts {
    const { context } = this;
    return {
      run: context.run,
      step: job.plan.step,
      assetId: job.asset.id,
      workerId: context.workerId,
      tool: job.plan.tool,
      decoder,
      params: job.plan.params,
      inputs: job.inputs,
      sidecars: job.sidecars,
      cacheKey: job.cacheKey,
      mime,
      durationMs: this.elapsed(job),
      sandboxRetentionDays: context.home.config.runs.sandboxRetentionDays,
    };
  }

  private elapsed(job: Job): number {
    return (this.context.now ?? Date.now)() - job.started;
  }
}

/** What run-tool.ts says of a tool that died of a signal: `vipsthumbnail: killed by SIGKILL`. */
const KILLED_BY_SIGNAL = /: killed by SIG[A-Z0-9]+$/;

/** Less free space than this when a step failed: the step's failure is taken for the disk's. */
const NEARLY_FULL_BYTES = 64 * 1024;
function isMetadata(job: Job): boolean {
  return job.plan.step.artifactKind === 'metadata';
}

function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0]!.slice(0, 500);
}

/** "25.27 GB free, 25.30 GB required"; in bytes when rounding would make the two look equal. */
function freeVersusRequired(free: number, required: number): string {
  const [a, b] = [formatSize(free), formatSize(required)];
  return a === b ? `${free} bytes free, ${required} bytes required` : `${a} free, ${b} required`;
}
