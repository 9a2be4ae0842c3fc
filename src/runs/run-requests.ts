import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { ArchivistError } from '../errors.js';
import type { Home } from '../home/home.js';
import { resolveParams } from '../pipeline/params.js';
import { findPipeline } from '../pipeline/registry.js';
import { configureTools } from '../pipeline/tools/lifecycle.js';
import type { Policy } from '../store/schema.js';
import { assetsOfRun } from '../store/run-outcomes-repository.js';
import { findRun, getRun, setRunMinFree, transitionRun } from '../store/runs-repository.js';
import { releaseItems, reopenFailedItems } from '../store/work-items-repository.js';
import { getCollection, resolveCollection } from './collections.js';
import { createRun, detectToolVersions } from './create-run.js';
import { diskSpace, formatSize, parseMinFree } from './disk-threshold.js';
import { spaceFigures } from './disk-full.js';
import { RESERVE_BYTES } from './disk-reserve.js';
import { wholeNumber } from '../whole-number.js';

/**
 * What a user may ask of runs, checked by one schema whether it came from the CLI or the HTTP API, and
 * carried out by one function each, so both front ends behave the same.
 */
const Workers = wholeNumber({ min: 1, max: 256 });

export const StartRunRequest = z
  .object({
    pipeline: z.string().min(1),
    collection: z.string().min(1),
    policy: z.enum(['sandbox', 'production']).default('sandbox'),
    set: z.array(z.string()).default([]),
    workers: Workers.optional(),
    minFree: z.string().min(1).optional(),
    force: z.boolean().default(false),
    seed: wholeNumber().optional(),
  })
  .strict();
export type StartRunRequest = z.input<typeof StartRunRequest>;

export const RetryRunRequest = z
  .object({
    run: z.string().min(1),
    failedOnly: z.boolean().default(false),
    set: z.array(z.string()).default([]),
    policy: z.enum(['sandbox', 'production']).optional(),
    workers: Workers.optional(),
    minFree: z.string().min(1).optional(),
    force: z.boolean().default(false),
  })
  .strict();
export type RetryRunRequest = z.input<typeof RetryRunRequest>;

export const ResumeRunRequest = z
  .object({
    run: z.string().min(1),
    includeFailed: z.boolean().default(false),
    workers: Workers.optional(),
    minFree: z.string().min(1).optional(),
  })
  .strict();
export type ResumeRunRequest = z.input<typeof ResumeRunRequest>;

/** Parses a request, turning the first problem into a usage error that names the field. */
export function parseRequest<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = issue.path.join('.') || undefined;
  throw new ArchivistError('usage', `${field ?? 'request'}: ${issue.message}`, field ? { field } : {});
}

export function defaultWorkers(home: Home): number {
  return home.config.runs.workers ?? os.cpus().length;
}

/**
 * The disk threshold of a run, from the request or the policy's default in config.json, refused when it is
 * at least the size of the store's whole filesystem: no amount of freed space could ever let such a run
 * write, so it would pause at its first artifact (and after every resume) instead of running.
 */
function minFreeOf(home: Home, policy: Policy, spec: string | undefined): { bytes: number; spec: string } {
  const chosen = spec ?? home.config.runs.minFree[policy];
  const disk = diskSpace(home.layout.artifacts);
  const bytes = parseMinFree(chosen, disk.total);
  checkMinFreeFits(
    home,
    bytes,
    spec === undefined ? `runs.minFree.${policy} ${chosen} (config.json)` : `--min-free ${chosen}`,
    disk.total,
  );
  return { spec: chosen, bytes };
}

/**
 * A disk with less free than a coordinator's reserve (disk-reserve.ts) is full for a run, whatever its
 * --min-free (`0` included): the run would pause at once. Said before anything is written.
 */
function checkRoomToRun(home: Home): void {
  const { free } = diskSpace(home.layout.artifacts);
  if (free >= RESERVE_BYTES) return;
  throw new ArchivistError(
    'io',
    `the disk holding ${home.layout.artifacts} is full (${spaceFigures(home.layout.artifacts)}): a run needs at least ${formatSize(RESERVE_BYTES)} free`,
    { retryable: true, hint: 'Free some space on that disk, then try again.' },
  );
}

function checkMinFreeFits(home: Home, bytes: number, what: string, total: number): void {
  if (bytes < total) return;
  throw new ArchivistError(
    'usage',
    `${what} asks for ${formatSize(bytes)} free, but the filesystem of the artifact store ` +
      `(${home.layout.artifacts}) is ${formatSize(total)} in all: the run could never write`,
    { field: 'minFree', hint: `Give a --min-free below ${formatSize(total)}, such as 1GB or 5%.` },
  );
}

export interface PlannedRun {
  runId: string;
  workers: number;
}

/** Plans a run: everything is checked before anything is written, so a refused run leaves no record. */
export async function startRun(home: Home, input: unknown): Promise<PlannedRun> {
  const request = parseRequest(StartRunRequest, input);
  const pipeline = findPipeline(request.pipeline);
  const params = resolveParams(pipeline, request.set);
  const minFree = minFreeOf(home, request.policy, request.minFree);
  const { row, filters } = await getCollection(home.db, request.collection);
  const assets = await resolveCollection(home.db, filters);
  if (assets.length === 0) {
    throw new ArchivistError('usage', `collection "${row.name}" has no assets`, {
      field: 'collection',
      hint: 'Catalog a source first, or widen the collection.',
    });
  }
  const workers = request.workers ?? defaultWorkers(home);
  checkRoomToRun(home);
  // The versions recorded on the run are those of the tools its workers will use (config paths first).
  configureTools(home.config.tools, home.layout.toolVersions);
  const runId = await createRun(home.db, {
    pipeline,
    params,
    toolVersions: await detectToolVersions(pipeline),
    collectionName: row.name,
    scope: filters,
    assets,
    policy: request.policy,
    minFree,
    workers,
    maxAttempts: home.config.runs.maxAttempts,
    itemTimeoutMs: home.config.runs.itemTimeoutSec * 1000,
    sandboxRetentionDays: home.config.runs.sandboxRetentionDays,
    force: request.force,
    seed: request.seed ?? Math.floor(Math.random() * 2 ** 31),
    parentRunId: null,
  });
  return { runId, workers };
}

/** A new run over an old run's items (or only its failed ones), linked by parentRunId, params changed by `set`. */
export async function retryRun(home: Home, input: unknown): Promise<PlannedRun> {
  const request = parseRequest(RetryRunRequest, input);
  const old = await findRun(home.db, request.run);
  const pipeline = findPipeline(`${old.pipeline_name}@${old.pipeline_version}`);
  const params = resolveParams(
    pipeline,
    request.set,
    JSON.parse(old.params_json) as Record<string, Record<string, unknown>>,
  );
  const policy: Policy = request.policy ?? old.policy;
  const assets = await assetsOfRun(home.db, old.id, request.failedOnly);
  if (assets.length === 0) {
    throw new ArchivistError(
      'usage',
      `run ${old.id} has no ${request.failedOnly ? 'failed ' : ''}items to retry`,
    );
  }
  const workers = request.workers ?? old.workers;
  configureTools(home.config.tools, home.layout.toolVersions);
  checkRoomToRun(home);
  const runId = await createRun(home.db, {
    pipeline,
    params,
    toolVersions: await detectToolVersions(pipeline),
    collectionName: old.collection_name,
    scope: { retryOf: old.id, failedOnly: request.failedOnly },
    assets,
    policy,
    minFree: minFreeOf(home, policy, request.minFree ?? old.min_free_spec),
    workers,
    maxAttempts: home.config.runs.maxAttempts,
    itemTimeoutMs: home.config.runs.itemTimeoutSec * 1000,
    sandboxRetentionDays: home.config.runs.sandboxRetentionDays,
    force: request.force,
    seed: old.seed,
    parentRunId: old.id,
  });
  return { runId, workers };
}

/** Readies a stopped run to continue: checks it may be resumed, applies a new threshold, re-opens failed items. */
export async function prepareResume(home: Home, input: unknown): Promise<PlannedRun> {
  const request = parseRequest(ResumeRunRequest, input);
  const run = await findRun(home.db, request.run);
  if (run.status === 'completed') {
    throw new ArchivistError('usage', `run ${run.id} is completed; a completed run never changes`, {
      hint: `To process its items again, use \`archivist run retry ${run.id}\` (a new run linked to it).`,
    });
  }
  if (run.status === 'running' || run.status === 'cancelling') {
    throw new ArchivistError(
      'usage',
      `run ${run.id} is ${run.status} (coordinator pid ${run.coordinator_pid ?? '?'})`,
      {
        hint: 'Watch it with `archivist run watch`, or cancel it first.',
      },
    );
  }
  checkRoomToRun(home);
  if (!request.minFree) {
    // The recorded threshold, against the store as it is now (it may have moved to a smaller disk).
    checkMinFreeFits(
      home,
      run.min_free_bytes,
      `the run's --min-free ${run.min_free_spec}`,
      diskSpace(home.layout.artifacts).total,
    );
  } else {
    const minFree = minFreeOf(home, run.policy, request.minFree);
    await setRunMinFree(home.db, run.id, minFree);
  }
  if (request.includeFailed) {
    await reopenFailedItems(home.db, run.id);
  }
  // Queued again: waiting for a coordinator, which takes only queued runs, so a cancel that comes
  // before the coordinator starts is kept. The last coordinator's pid goes: it is dead, and a queued run
  // with a dead coordinator's pid is one whose launch failed (detect-interrupted.ts).
  if (
    !(await transitionRun(home.db, run.id, ['queued', 'paused', 'cancelled', 'interrupted'], 'queued', {
      status_reason: null,
      coordinator_pid: null,
    }))
  ) {
    const now = await getRun(home.db, run.id);
    throw new ArchivistError('usage', `run ${run.id} is ${now.status}: it cannot be resumed now`);
  }
  return { runId: run.id, workers: request.workers ?? run.workers };
}

/**
 * Asks a run to stop. A running run becomes `cancelling` and its coordinator finishes the job (no new
 * claims, in-flight steps aborted after a grace period, then `cancelled`); a run nobody is working on is
 * recorded `cancelled` at once. Waits up to `waitMs` for the coordinator.
 */
export async function cancelRun(home: Home, ref: string, waitMs = 60_000): Promise<void> {
  const run = await findRun(home.db, ref);
  if (run.status === 'completed')
    throw new ArchivistError('usage', `run ${run.id} is already completed; there is nothing to cancel`);
  if (run.status === 'running') {
    await transitionRun(home.db, run.id, ['running'], 'cancelling');
  } else if (run.status !== 'cancelling' && run.status !== 'cancelled') {
    await releaseItems(home.db, { runId: run.id });
    await transitionRun(home.db, run.id, ['queued', 'paused', 'interrupted'], 'cancelled', {
      status_reason: 'cancelled by the user',
    });
  }
  for (let waited = 0; waited < waitMs; waited += 200) {
    const now = await getRun(home.db, run.id);
    if (now.status !== 'cancelling' && now.status !== 'running') return;
    await sleep(200);
  }
}
