import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cacheKeyOf } from '../artifacts/cache-key.js';
import { artifactFileExists, storeArtifactFile } from '../artifacts/artifact-store.js';
import { newArtifactId } from './run-id.js';
import type { Home } from '../home/home.js';
import type { PipelineDefinition, StepDefinition, StepInput, StepOutcome } from '../pipeline/step.js';
import { RETRYABLE_REASONS } from '../pipeline/step.js';
import type { RunRow, WorkItemRow } from '../store/schema.js';
import { transitionRun } from '../store/runs-repository.js';
import { claimWorkItem } from './claim-work-item.js';
import { diskSpace, formatSize } from './disk-threshold.js';
import {
  completeWorkItem,
  failWorkItem,
  releaseWorkItems,
  skipOrphanedDependents,
  skipWorkItem,
} from './finish-work-item.js';
import { extendLease, HEARTBEAT_MS, LEASE_MS } from './lease.js';
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

export function needsOf(pipeline: PipelineDefinition): Record<string, readonly string[]> {
  return Object.fromEntries(pipeline.steps.map((step) => [step.name, step.needs ?? []]));
}

/** Claims and processes items until the run has nothing left for us, is stopped, or is paused. */
export async function runWorkerLoop(context: WorkerContext): Promise<WorkerExit> {
  const now = context.now ?? Date.now;
  const needs = needsOf(context.pipeline);
  const toolVersions = new Map<string, string>();
  while (!context.stop.aborted) {
    const claim = await claimWorkItem(context.home.db, {
      runId: context.run.id,
      owner: context.workerId,
      leaseMs: LEASE_MS,
      needs,
      now: now(),
    });
    switch (claim.kind) {
      case 'stopped':
        return claim.status === 'paused' ? 'paused' : 'stopped';
      case 'finished':
        return 'finished';
      case 'wait':
        await sleep(100, undefined, { signal: context.stop }).catch(() => undefined);
        continue;
      case 'claimed': {
        const step = context.pipeline.steps.find((s) => s.name === claim.item.step);
        if (!step) throw new Error(`run ${context.run.id} has items of unknown step ${claim.item.step}`);
        let version = toolVersions.get(step.name);
        if (version === undefined) {
          version = await step.tool.version();
          toolVersions.set(step.name, version);
        }
        context.send({
          type: 'claimed',
          itemId: claim.item.id,
          step: step.name,
          assetId: claim.item.asset_id,
          at: now(),
        });
        const outcome = await processItem(context, claim.item, step, version, needs);
        context.send({ type: 'finished', itemId: claim.item.id, outcome });
        if (outcome === 'released') return context.abortWork.aborted ? 'stopped' : 'paused';
        break;
      }
    }
  }
  return 'stopped';
}

async function presentFile(context: WorkerContext, assetId: string): Promise<string | null> {
  const rows = await context.home.db
    .selectFrom('locations')
    .innerJoin('sources', 'sources.id', 'locations.source_id')
    .select(['sources.path as root', 'locations.path'])
    .where('locations.asset_id', '=', assetId)
    .where('locations.status', '=', 'present')
    .orderBy('locations.id')
    .execute();
  for (const row of rows) {
    const file = path.join(row.root, ...row.path.split('/'));
    if (fs.existsSync(file)) return file;
  }
  return null;
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
): Promise<ItemOutcome> {
  const { home, run, workerId } = context;
  const now = context.now ?? Date.now;
  const started = now();
  const heartbeat = setInterval(() => {
    void extendLease(home.db, item.id, workerId, now() + LEASE_MS).then((ours) => {
      if (!ours) abort.abort(new Error('lease lost'));
    });
  }, HEARTBEAT_MS);
  const abort = new AbortController();
  const onStop = () => abort.abort(new Error('stopped'));
  context.abortWork.addEventListener('abort', onStop);
  const timeout = setTimeout(() => abort.abort(new Error('timeout')), run.item_timeout_ms);
  const scratchDir = path.join(home.layout.tmp, `work-${process.pid}-${item.id}`);
  try {
    const asset = await home.db
      .selectFrom('assets')
      .selectAll()
      .where('id', '=', item.asset_id)
      .executeTakeFirstOrThrow();
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
      const reusable = await findReusable(context, cacheKey);
      if (reusable) {
        const ok = await completeWorkItem(home.db, item, workerId, {
          durationMs: now() - started,
          artifact: { reusedId: reusable.id },
          makeCurrent: run.policy === 'production' ? { assetId: asset.id, kind: step.artifactKind } : null,
        });
        return ok ? 'reused' : 'lost';
      }
    }

    const file = await presentFile(context, asset.id);
    let outcome: StepOutcome;
    if (!file) {
      outcome = {
        status: 'failed',
        reason: 'source-missing',
        message: 'no present location: the file is missing from every source',
        retryable: false,
      };
    } else {
      await fs.promises.mkdir(scratchDir, { recursive: true });
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
        let artifact: Parameters<typeof completeWorkItem>[3]['artifact'] = null;
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
        context.log.info(
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
        const ok = await completeWorkItem(home.db, item, workerId, {
          durationMs: now() - started,
          artifact,
          makeCurrent:
            run.policy === 'production' && artifact ? { assetId: asset.id, kind: step.artifactKind } : null,
        });
        return ok ? 'done' : 'lost';
      }
    }
  } finally {
    clearInterval(heartbeat);
    clearTimeout(timeout);
    context.abortWork.removeEventListener('abort', onStop);
    await fs.promises.rm(scratchDir, { recursive: true, force: true });
  }
}

async function findReusable(context: WorkerContext, cacheKey: string): Promise<{ id: string } | undefined> {
  const candidates = await context.home.db
    .selectFrom('artifacts')
    .select(['id', 'path', 'size', 'policy', 'expires_at'])
    .where('cache_key', '=', cacheKey)
    .orderBy('created_at', 'desc')
    .execute();
  const nowIso = new Date().toISOString();
  return candidates.find(
    (candidate) =>
      // Production work reuses only kept artifacts; a sandbox run may reuse anything not yet expired.
      (context.run.policy === 'sandbox'
        ? candidate.expires_at === null || candidate.expires_at > nowIso
        : candidate.expires_at === null) &&
      artifactFileExists(context.home.layout, candidate.path, candidate.size),
  );
}

function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0]!.slice(0, 500);
}
