import { captureFactsOfOutput, captureFactsOfStored } from '../artifacts/artifact-capture-facts.js';
import { storeArtifactFile } from '../artifacts/artifact-store.js';
import { RETRYABLE_REASONS, type StepOutput } from '../pipeline/step.js';
import { transitionRun } from '../store/runs-repository.js';
import { leaseOf, releaseItems, skipItem, skipOrphanedDependents } from '../store/work-items-repository.js';
import { diskSpace, formatSize } from './disk-threshold.js';
import { isDiskFull, isNearlyFull, saysDiskFull } from './disk-full.js';
import { doneResult, type DoneFacts } from './done-result.js';
import { failWorkItem } from './finish-work-item.js';
import { isMetadata, oneLine, type FailedOutcome, type ItemJob, type ItemOutcome } from './item-job.js';
import type { PendingCompletions } from './pending-completions.js';
import type { WorkerContext } from './worker-context.js';

/**
 * Records how an item in hand ended: reused, given back, skipped, failed or done. Every write is fenced
 * by the item's lease (owner and epoch); a done item's row waits for its file in PendingCompletions.
 */
export class OutcomeRecorder {
  constructor(
    private readonly context: WorkerContext,
    private readonly completions: PendingCompletions,
    /** The steps each step needs: a failed item's dependents are skipped. */
    private readonly needs: Record<string, readonly string[]>,
  ) {}

  /** An identical artifact (same cache key) that this run may use: done, without running the step. */
  reused(job: ItemJob, reusable: { id: string; path: string }): ItemOutcome {
    const { run, home } = this.context;
    this.completions.add(job.item, {
      durationMs: this.elapsed(job),
      artifact: { reusedId: reusable.id },
      makeCurrent:
        run.policy === 'production' ? { assetId: job.asset.id, kind: job.plan.step.artifactKind } : null,
      capture: isMetadata(job) ? captureFactsOfStored(home.layout, reusable.path) : undefined,
    });
    return 'reused';
  }

  /** Cancelled, paused or below the threshold while working: the item goes back untouched, uncharged. */
  async released(job: ItemJob): Promise<ItemOutcome> {
    const { home, run, workerId } = this.context;
    await releaseItems(home.db, { runId: run.id, itemId: job.item.id, owner: workerId });
    return 'released';
  }

  async skipped(job: ItemJob, reason: string, message: string): Promise<ItemOutcome> {
    const { db } = this.context.home;
    if (!(await skipItem(db, leaseOf(job.item), reason, message))) return 'lost';
    // Its dependents can never run now: skipped at once, as after a failure. Left pending, they kept
    // every worker waiting for an item none could claim, and the run never ended.
    await skipOrphanedDependents(db, this.context.run.id, this.needs);
    return 'skipped';
  }

  async failed(job: ItemJob, file: string | null, outcome: FailedOutcome): Promise<ItemOutcome> {
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
      retryable: isRetryableFailure(outcome),
      durationMs: this.elapsed(job),
    });
    if (result === 'failed') await skipOrphanedDependents(context.home.db, context.run.id, this.needs);
    return result;
  }

  async done(
    job: ItemJob,
    file: string | null,
    output: StepOutput | null,
    decoder: string | undefined,
  ): Promise<ItemOutcome> {
    const { home } = this.context;
    // Per-item success is debug-level: a 100,000-item run should not write 100,000 lines by default.
    this.context.log.debug(
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
    if (await this.pausedBelowThreshold()) return this.released(job);
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
      (error) => this.storeFailed(job, file, error),
    );
    return 'done';
  }

  /** Checked before every write: below the threshold the run pauses and nothing is failed. */
  private async pausedBelowThreshold(): Promise<boolean> {
    const { home, run } = this.context;
    const space = diskSpace(home.layout.artifacts);
    if (space.free >= run.min_free_bytes) return false;
    await transitionRun(home.db, run.id, ['running'], 'paused', {
      status_reason: `disk-threshold: ${freeVersusRequired(space.free, run.min_free_bytes)} (--min-free ${run.min_free_spec})`,
    });
    return true;
  }

  /** The artifact file could not be stored: a full disk pauses the run, anything else fails the attempt. */
  private async storeFailed(job: ItemJob, file: string | null, error: unknown): Promise<void> {
    const { context } = this;
    if (isDiskFull(error)) {
      // ENOSPC while writing, fsyncing or renaming the file (its temp file is already removed): the
      // item did nothing wrong. It goes back without an attempt charged and the run pauses; on a
      // disk too full even for this release, the coordinator releases it when the run stops.
      context.diskFull?.('writing an artifact file', error);
      await this.released(job).catch(() => undefined);
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
    await failWorkItem(context.home.db, job.item.id, leaseOf(job.item), {
      reason: 'io-error',
      message,
      retryable: true,
      durationMs: this.elapsed(job),
    });
  }

  private facts(job: ItemJob, mime: string, decoder: string | undefined): DoneFacts {
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
      // The run's own figure: a worker on another host with another config gives the same expiry.
      sandboxRetentionDays:
        context.run.sandbox_retention_days ?? context.home.config.runs.sandboxRetentionDays,
    };
  }

  private elapsed(job: ItemJob): number {
    return (this.context.now ?? Date.now)() - job.started;
  }
}

/**
 * Whether a failed attempt may be tried again: as the step said (a tool killed by a signal, the OOM
 * killer, a crash, says nothing about the file yet: run-tool.ts marks it retryable, and it is quarantined
 * only if it dies every time), else by its reason.
 */
export function isRetryableFailure(outcome: FailedOutcome): boolean {
  return outcome.retryable ?? RETRYABLE_REASONS.has(outcome.reason);
}

/**
 * A failed step that failed because the home's disk is full: the tool said ENOSPC, or the disk holding
 * the scratch folder has (almost) nothing left, so the tool's "write error" was the disk's.
 */
export function failedForFullDisk(outcome: FailedOutcome, scratchDir: string): boolean {
  return saysDiskFull(outcome.message) || saysDiskFull(outcome.stderrTail) || isNearlyFull(scratchDir);
}

/** "25.27 GB free, 25.30 GB required"; in bytes when rounding would make the two look equal. */
function freeVersusRequired(free: number, required: number): string {
  const [a, b] = [formatSize(free), formatSize(required)];
  return a === b ? `${free} bytes free, ${required} bytes required` : `${a} free, ${b} required`;
}
