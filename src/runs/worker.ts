import { setTimeout as sleep } from 'node:timers/promises';
import { cacheKeyOf } from '../artifacts/cache-key.js';
import type { Home } from '../home/home.js';
import type { PipelineDefinition, StepDefinition } from '../pipeline/step.js';
import type { RunRow, WorkItemRow } from '../store/schema.js';
import { claimWorkItem } from './claim-work-item.js';
import { releaseWorkItems } from './finish-work-item.js';
import { ItemLookups } from './item-lookups.js';
import { extendLeases, HEARTBEAT_MS, LEASE_MS } from './lease.js';
import { PendingCompletions } from './pending-completions.js';
import { processItem } from './process-item.js';
import { makeScratchDir, removeScratchDir } from './scratch-dirs.js';
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

/**
 * A worker claims as many items at once as it expects to finish in this long: a claim is a write
 * transaction of its own, and at camera-photo speed (20-80 ms an item) one per item was a tenth of the
 * worker's own CPU. Short enough that the items a worker holds but has not started stay a moment's work,
 * so the run's "running" count means what it says and the last items of a run are not stuck behind a
 * busy worker.
 */
const AHEAD_MS = 250;
/** At most this many items claimed ahead; their leases are all extended by the worker's heartbeat. */
const MAX_BATCH = 128;

/** Claims and processes items until the run has nothing left for us, is stopped, or is paused. */
export async function runWorkerLoop(context: WorkerContext): Promise<WorkerExit> {
  const now = context.now ?? Date.now;
  const needs = needsOf(context.pipeline);
  // Every step's tool version, asked once and all at once (each may start a program): this worker's own
  // answer goes into the lineage of what it makes, and the wait is before its first item.
  const toolVersions = new Map(
    await Promise.all(
      context.pipeline.steps.map(async (step) => [step.name, await step.tool.version()] as const),
    ),
  );
  const versionOf = (step: StepDefinition): string => toolVersions.get(step.name)!;
  const allParams = JSON.parse(context.run.params_json) as Record<string, Record<string, unknown>>;
  const paramsOf = (step: string) => allParams[step] ?? {};
  const lookups = new ItemLookups(context.home, context.run);
  const queue: WorkItemRow[] = [];
  let batch = 1;
  // How long this worker's items take, recent ones weighing most.
  let meanMs: number | null = null;
  // One heartbeat for every lease this worker holds: the item in hand and those claimed ahead.
  const heartbeat = setInterval(() => {
    void extendLeases(context.home.db, context.workerId, now() + LEASE_MS).catch(() => undefined);
  }, HEARTBEAT_MS);
  // One scratch directory per worker process, made once; a step removes what it no longer needs, and the
  // whole directory goes when the worker exits (see scratch-dirs.ts for one that is killed).
  const scratchDir = await makeScratchDir(context.home.layout);
  const completions = new PendingCompletions(context.home.db, context.workerId, context.log);
  try {
    while (!context.stop.aborted) {
      if (queue.length === 0) {
        const claim = await completions.within((record) =>
          claimWorkItem(context.home.db, {
            runId: context.run.id,
            owner: context.workerId,
            leaseMs: LEASE_MS,
            needs,
            now: now(),
            limit: batch,
            before: record,
          }),
        );
        if (claim.kind === 'stopped') return claim.status === 'paused' ? 'paused' : 'stopped';
        if (claim.kind === 'finished') return 'finished';
        if (claim.kind === 'wait') {
          // Our own items still being stored may be what the run waits for: commit them first.
          if (completions.busy) await completions.settle();
          else await sleep(100, undefined, { signal: context.stop }).catch(() => undefined);
          continue;
        }
        queue.push(...claim.items);
        // Read what the batch needs in a few queries instead of a few per item.
        const keys: string[] = [];
        for (const claimed of claim.items) {
          const step = stepOf(context, claimed);
          if (step.needs && step.needs.length > 0) continue; // its key depends on inputs made later
          const tool = { name: step.tool.name, version: versionOf(step) };
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
      const version = versionOf(step);
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
      // slow. An item longer than the whole allowance gives back what was claimed behind it, so the
      // other workers take those instead of waiting.
      const took = now() - started;
      meanMs = meanMs === null ? took : meanMs * 0.8 + took * 0.2;
      batch = Math.max(1, Math.min(MAX_BATCH, batch * 2, Math.floor(AHEAD_MS / Math.max(meanMs, 1))));
      if (took >= AHEAD_MS && queue.length > 0) {
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
    removeScratchDir(scratchDir);
  }
}
