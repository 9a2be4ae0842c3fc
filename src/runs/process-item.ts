import path from 'node:path';
import { cacheKeyOf } from '../artifacts/cache-key.js';
import { storeArtifactFile } from '../artifacts/artifact-store.js';
import type { StepDefinition, StepInput, StepOutcome } from '../pipeline/step.js';
import { RETRYABLE_REASONS } from '../pipeline/step.js';
import type { WorkItemRow } from '../store/schema.js';
import { transitionRun } from '../store/runs-repository.js';
import { diskSpace, formatSize } from './disk-threshold.js';
import { failWorkItem, releaseWorkItems, skipOrphanedDependents, skipWorkItem } from './finish-work-item.js';
import { doneResult, type DoneFacts } from './done-result.js';
import type { ItemLookups } from './item-lookups.js';
import { extendLease, HEARTBEAT_MS, LEASE_MS } from './lease.js';
import type { PendingCompletions } from './pending-completions.js';
import type { WorkerContext } from './worker.js';
import type { WorkerMessage } from './worker-messages.js';

/**
 * One work item, start to end: reuse an identical artifact if there is one, else run the step under its
 * timeout and the run's cancel, check the disk, store the output, and record done, skipped or failed.
 */
async function inputsOf(
  context: WorkerContext,
  item: WorkItemRow,
  step: StepDefinition,
): Promise<StepInput[]> {
  if (!step.needs || step.needs.length === 0) return [];
  const rows = await context.home.db
    .selectFrom('work_items')
    .innerJoin('artifacts', 'artifacts.id', 'work_items.artifact_id')
    .select(['work_items.step', 'artifacts.id', 'artifacts.path', 'artifacts.sha256'])
    .where('work_items.run_id', '=', item.run_id)
    .where('work_items.asset_id', '=', item.asset_id)
    .where('work_items.step', 'in', step.needs)
    .execute();
  return rows.map((row) => ({
    step: row.step,
    artifactId: row.id,
    file: path.join(context.home.layout.artifacts, ...row.path.split('/')),
    sha256: row.sha256,
  }));
}

export type ItemOutcome = Extract<WorkerMessage, { type: 'finished' }>['outcome'];

export async function processItem(
  context: WorkerContext,
  item: WorkItemRow,
  step: StepDefinition,
  toolVersion: string,
  needs: Record<string, readonly string[]>,
  scratchDir: string,
  completions: PendingCompletions,
  lookups: ItemLookups,
): Promise<ItemOutcome> {
  const { home, run, workerId } = context;
  const now = context.now ?? Date.now;
  const started = now();
  const abort = new AbortController();
  const onStop = () => abort.abort(new Error('stopped'));
  context.abortWork.addEventListener('abort', onStop);
  const timeout = setTimeout(() => abort.abort(new Error('timeout')), run.item_timeout_ms);
  // The lease of the item in hand is watched by the heartbeat; if it was lost (expired and taken by
  // another worker), stop working on it: the other worker's result is the one that counts.
  const leaseWatch = setInterval(() => {
    void extendLease(home.db, item.id, workerId, now() + LEASE_MS).then((ours) => {
      if (!ours) abort.abort(new Error('lease lost'));
    });
  }, HEARTBEAT_MS);
  try {
    const asset = await lookups.asset(item.asset_id);
    const params = (JSON.parse(run.params_json) as Record<string, Record<string, unknown>>)[step.name] ?? {};
    const inputs = await inputsOf(context, item, step);
    const tool = { name: step.tool.name, version: toolVersion };
    const cacheKey = cacheKeyOf({
      step: step.name,
      tool,
      params,
      inputSha256: [asset.id, ...inputs.map((i) => i.sha256)],
    });

    if (!run.force) {
      const reusable = await lookups.reusable(cacheKey);
      if (reusable) {
        completions.add(item, {
          durationMs: now() - started,
          artifact: { reusedId: reusable.id },
          makeCurrent: run.policy === 'production' ? { assetId: asset.id, kind: step.artifactKind } : null,
        });
        return 'reused';
      }
    }

    const location = await lookups.presentFile(asset.id);
    const file = location?.file ?? null;
    let outcome: StepOutcome;
    if (!location) {
      outcome = {
        status: 'failed',
        reason: 'source-missing',
        message: 'no present location: the file is missing from every source',
        retryable: false,
      };
    } else {
      try {
        outcome = await step.run({
          // The catalog's facts go with the path: the step checks the file against them (source-changed).
          asset: {
            id: asset.id,
            mediaType: asset.media_type,
            mime: asset.mime,
            size: asset.size,
            file: location.file,
            mtimeNs: location.mtimeNs,
            inode: location.inode,
          },
          params,
          inputs,
          signal: abort.signal,
          scratchDir,
        });
      } catch (error) {
        outcome = { status: 'failed', reason: 'step-error', message: oneLine(error), retryable: false };
      }
    }

    if (context.abortWork.aborted) {
      // Cancelled or paused while working: give the item back untouched, it did nothing wrong.
      await releaseWorkItems(home.db, { runId: run.id, itemId: item.id, owner: workerId });
      return 'released';
    }
    if (
      abort.signal.aborted &&
      abort.signal.reason instanceof Error &&
      abort.signal.reason.message === 'timeout'
    ) {
      outcome = {
        status: 'failed',
        reason: 'timeout',
        message: `took longer than ${run.item_timeout_ms / 1000} s`,
        retryable: true,
      };
    }

    switch (outcome.status) {
      case 'skipped':
        return (await skipWorkItem(home.db, item, workerId, outcome.reason, outcome.message))
          ? 'skipped'
          : 'lost';
      case 'failed': {
        // Enough to rerun this item by hand: the file, the step, its params, the tool and what it said.
        context.log.warn(
          {
            event: 'item-failed',
            itemId: item.id,
            assetId: asset.id,
            file,
            step: step.name,
            params,
            tool,
            command: outcome.command ?? null,
            attempt: item.attempts,
            reason: outcome.reason,
            message: outcome.message,
            stderrTail: outcome.stderrTail ?? null,
          },
          `${step.name} failed on ${file ?? asset.id}: ${outcome.reason}`,
        );
        const result = await failWorkItem(home.db, item.id, workerId, {
          reason: outcome.reason,
          message: outcome.message,
          stderrTail: outcome.stderrTail ?? null,
          retryable: outcome.retryable ?? RETRYABLE_REASONS.has(outcome.reason),
          durationMs: now() - started,
        });
        if (result === 'failed') await skipOrphanedDependents(home.db, run.id, needs);
        return result;
      }
      case 'done': {
        const facts = (durationMs: number, mime: string): DoneFacts => ({
          run,
          step,
          assetId: asset.id,
          workerId,
          tool,
          params,
          inputs,
          cacheKey,
          decoder: outcome.decoder,
          mime,
          durationMs,
          sandboxRetentionDays: home.config.runs.sandboxRetentionDays,
        });
        // Per-item success is debug-level: a 100,000-item run should not write 100,000 lines by default.
        context.log.debug(
          {
            event: 'item-done',
            itemId: item.id,
            assetId: asset.id,
            step: step.name,
            durationMs: now() - started,
          },
          `${step.name} done`,
        );
        if (!outcome.output) {
          completions.add(item, doneResult(facts(now() - started, ''), null));
          return 'done';
        }
        // Check the disk before every write: below the threshold the run pauses and nothing is failed.
        const space = diskSpace(home.layout.artifacts);
        if (space.free < run.min_free_bytes) {
          await transitionRun(home.db, run.id, ['running'], 'paused', {
            status_reason: `disk-threshold: ${freeVersusRequired(space.free, run.min_free_bytes)} (--min-free ${run.min_free_spec})`,
          });
          await releaseWorkItems(home.db, { runId: run.id, itemId: item.id, owner: workerId });
          return 'released';
        }
        const output = outcome.output;
        // The store goes on while this worker starts its next item; the row waits for the file (see
        // PendingCompletions). A file that cannot be stored fails this attempt, retryably.
        completions.addWhenStored(
          item,
          storeArtifactFile(home.layout, output).then((stored) =>
            doneResult(facts(now() - started, output.mime), stored),
          ),
          async (error) => {
            const message = `cannot store the artifact: ${oneLine(error)}`;
            context.log.warn(
              {
                event: 'item-failed',
                itemId: item.id,
                assetId: asset.id,
                step: step.name,
                reason: 'io-error',
                message,
              },
              `${step.name} failed on ${file ?? asset.id}: io-error`,
            );
            await failWorkItem(home.db, item.id, workerId, {
              reason: 'io-error',
              message,
              retryable: true,
              durationMs: now() - started,
            });
          },
        );
        return 'done';
      }
    }
  } finally {
    clearInterval(leaseWatch);
    clearTimeout(timeout);
    context.abortWork.removeEventListener('abort', onStop);
  }
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
