import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cacheKeyOf } from '../artifacts/cache-key.js';
import { storeArtifactFile } from '../artifacts/artifact-store.js';
import { newArtifactId } from './run-id.js';
import type { Home } from '../home/home.js';
import type { PipelineDefinition, StepDefinition, StepInput, StepOutcome } from '../pipeline/step.js';
import { RETRYABLE_REASONS } from '../pipeline/step.js';
import type { RunRow, WorkItemRow } from '../store/schema.js';
import { transitionRun } from '../store/runs-repository.js';
import { claimWorkItem } from './claim-work-item.js';
import { diskSpace, formatSize } from './disk-threshold.js';
import {
  failWorkItem,
  type DoneResult,
  releaseWorkItems,
  skipOrphanedDependents,
  skipWorkItem,
} from './finish-work-item.js';
import { extendLease, extendLeases, HEARTBEAT_MS, LEASE_MS } from './lease.js';
import { ItemLookups } from './item-lookups.js';
import { PendingCompletions } from './pending-completions.js';
import type { RunLog } from './run-log.js';
import type { WorkerMessage } from './worker-messages.js';

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
}

export type WorkerExit = 'finished' | 'stopped' | 'paused';

function stepOf(context: WorkerContext, item: WorkItemRow): StepDefinition {
  const step = context.pipeline.steps.find((s) => s.name === item.step);
  if (!step) throw new Error(`run ${context.run.id} has items of unknown step ${item.step}`);
  return step;
}

export function needsOf(pipeline: PipelineDefinition): Record<string, readonly string[]> {
  return Object.fromEntries(pipeline.steps.map((step) => [step.name, step.needs ?? []]));
}

/** Items shorter than this are "fast": the worker then claims several per transaction. */
const FAST_ITEM_MS = 10;
/** An item this long means the batch was a bad bet: the items claimed behind it are given back. */
const SLOW_ITEM_MS = 100;
/** At most this many items claimed ahead; their leases are all extended by the worker's heartbeat. */
const MAX_BATCH = 128;

/** Claims and processes items until the run has nothing left for us, is stopped, or is paused. */
export async function runWorkerLoop(context: WorkerContext): Promise<WorkerExit> {
  const now = context.now ?? Date.now;
  const needs = needsOf(context.pipeline);
  const toolVersions = new Map<string, string>();
  const versionOf = async (step: StepDefinition): Promise<string> => {
    let version = toolVersions.get(step.name);
    if (version === undefined) {
      version = await step.tool.version();
      toolVersions.set(step.name, version);
    }
    return version;
  };
  const allParams = JSON.parse(context.run.params_json) as Record<string, Record<string, unknown>>;
  const paramsOf = (step: string) => allParams[step] ?? {};
  const lookups = new ItemLookups(context.home, context.run);
  const queue: WorkItemRow[] = [];
  let batch = 1;
  // One heartbeat for every lease this worker holds: the item in hand and those claimed ahead.
  const heartbeat = setInterval(() => {
    void extendLeases(context.home.db, context.workerId, now() + LEASE_MS).catch(() => undefined);
  }, HEARTBEAT_MS);
  // One scratch directory per worker process, made once; a step removes what it no longer needs, and the
  // whole directory goes when the worker exits.
  const scratchDir = path.join(context.home.layout.tmp, `work-${process.pid}`);
  await fs.promises.mkdir(scratchDir, { recursive: true });
  const completions = new PendingCompletions(context.home.db, context.workerId, context.log);
  try {
    while (!context.stop.aborted) {
      if (queue.length === 0) {
        await completions.flush();
        const claim = await claimWorkItem(context.home.db, {
          runId: context.run.id,
          owner: context.workerId,
          leaseMs: LEASE_MS,
          needs,
          now: now(),
          limit: batch,
        });
        if (claim.kind === 'stopped') return claim.status === 'paused' ? 'paused' : 'stopped';
        if (claim.kind === 'finished') return 'finished';
        if (claim.kind === 'wait') {
          await sleep(100, undefined, { signal: context.stop }).catch(() => undefined);
          continue;
        }
        queue.push(...claim.items);
        // Read what the batch needs in a few queries instead of a few per item.
        const keys: string[] = [];
        for (const claimed of claim.items) {
          const step = stepOf(context, claimed);
          if (step.needs && step.needs.length > 0) continue; // its key depends on inputs made later
          const tool = { name: step.tool.name, version: await versionOf(step) };
          keys.push(
            cacheKeyOf({
              step: step.name,
              tool,
              params: paramsOf(step.name),
              inputSha256: [claimed.asset_id],
            }),
          );
        }
        await lookups.prefetch(
          claim.items.map((i) => i.asset_id),
          context.run.force ? [] : keys,
        );
      }
      const item = queue.shift()!;
      const step = stepOf(context, item);
      const version = await versionOf(step);
      const started = now();
      context.send({
        type: 'claimed',
        itemId: item.id,
        step: step.name,
        assetId: item.asset_id,
        at: started,
      });
      const outcome = await processItem(
        context,
        item,
        step,
        version,
        needs,
        scratchDir,
        completions,
        lookups,
      );
      context.send({ type: 'finished', itemId: item.id, outcome });
      if (outcome === 'released') return context.abortWork.aborted ? 'stopped' : 'paused';
      // Claim more at once while items are quick (bookkeeping dominates), one at a time when they are
      // slow. An item that turns out slow gives back what was claimed behind it, so the other workers
      // take those instead of waiting, and the run's "running" count means what it says.
      const took = now() - started;
      batch = took < FAST_ITEM_MS ? Math.min(MAX_BATCH, batch * 2) : 1;
      if (took >= SLOW_ITEM_MS && queue.length > 0) {
        await completions.flush();
        const giveBack = queue.splice(0).map((i) => i.id);
        await releaseWorkItems(context.home.db, {
          runId: context.run.id,
          owner: context.workerId,
          itemIds: giveBack,
        });
      }
    }
    return 'stopped';
  } finally {
    await completions.flush();
    clearInterval(heartbeat);
    // Items claimed ahead but never started go back untouched, without using an attempt.
    if (queue.length > 0) {
      await releaseWorkItems(context.home.db, {
        runId: context.run.id,
        owner: context.workerId,
        itemIds: queue.map((i) => i.id),
      });
    }
    await fs.promises.rm(scratchDir, { recursive: true, force: true });
  }
}

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

type ItemOutcome = Extract<WorkerMessage, { type: 'finished' }>['outcome'];

async function processItem(
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

    const file = await lookups.presentFile(asset.id);
    let outcome: StepOutcome;
    if (!file) {
      outcome = {
        status: 'failed',
        reason: 'source-missing',
        message: 'no present location: the file is missing from every source',
        retryable: false,
      };
    } else {
      try {
        outcome = await step.run({
          asset: { id: asset.id, mediaType: asset.media_type, mime: asset.mime, size: asset.size, file },
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
        let artifact: DoneResult['artifact'] = null;
        if (outcome.output) {
          // Check the disk before every write: below the threshold the run pauses and nothing is failed.
          const space = diskSpace(home.layout.artifacts);
          if (space.free < run.min_free_bytes) {
            await transitionRun(home.db, run.id, ['running'], 'paused', {
              status_reason: `disk-threshold: ${formatSize(space.free)} free, ${formatSize(run.min_free_bytes)} required (--min-free ${run.min_free_spec})`,
            });
            await releaseWorkItems(home.db, { runId: run.id, itemId: item.id, owner: workerId });
            return 'released';
          }
          const stored = await storeArtifactFile(home.layout, outcome.output);
          const createdAt = new Date().toISOString();
          const retentionDays = home.config.runs.sandboxRetentionDays;
          artifact = {
            created: {
              id: newArtifactId(),
              kind: step.artifactKind,
              step: step.name,
              assetId: asset.id,
              runId: run.id,
              sha256: stored.sha256,
              size: stored.size,
              mime: outcome.output.mime,
              path: stored.path,
              cacheKey,
              policy: run.policy,
              // Sandbox results are for looking, not keeping: they expire and never become current.
              expiresAt:
                run.policy === 'sandbox'
                  ? new Date(Date.now() + retentionDays * 86_400_000).toISOString()
                  : null,
            },
            lineage: {
              runId: run.id,
              pipeline: { name: run.pipeline_name, version: run.pipeline_version },
              step: step.name,
              tool,
              params,
              inputs: [
                { assetId: asset.id, sha256: asset.id },
                ...inputs.map((input) => ({
                  assetId: asset.id,
                  sha256: input.sha256,
                  artifactId: input.artifactId,
                })),
              ],
              worker: workerId,
              host: os.hostname(),
              durationMs: now() - started,
              createdAt,
            },
          };
        }
        // Per-item success is debug-level: a 100,000-item run should not write 100,000 lines by default.
        context.log.debug(
          {
            event: 'item-done',
            itemId: item.id,
            assetId: asset.id,
            step: step.name,
            durationMs: now() - started,
            artifactId: artifact?.created.id ?? null,
          },
          `${step.name} done`,
        );
        completions.add(item, {
          durationMs: now() - started,
          artifact,
          makeCurrent:
            run.policy === 'production' && artifact ? { assetId: asset.id, kind: step.artifactKind } : null,
        });
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
