import type { Command } from 'commander';
import { z } from 'zod';
import { ArchivistError } from '../../errors.js';
import type { Home } from '../../home/home.js';
import { resolveParams } from '../../pipeline/params.js';
import { findPipeline } from '../../pipeline/registry.js';
import { getCollection, resolveCollection } from '../../runs/collections.js';
import { createRun, detectToolVersions } from '../../runs/create-run.js';
import { diskSpace, parseMinFree } from '../../runs/disk-threshold.js';
import type { Policy } from '../../store/schema.js';
import { findRun } from '../../store/runs-repository.js';
import type { GlobalOptions } from '../output.js';
import { defaultWorkers, launchRun } from '../run-launch.js';
import { withHome } from '../with-home.js';

const RunOptions = z.object({
  policy: z.enum(['sandbox', 'production']).optional(),
  set: z.array(z.string()).default([]),
  workers: z.coerce.number().int().min(1).max(256).optional(),
  minFree: z.string().min(1).optional(),
  force: z.boolean().optional(),
  detach: z.boolean().optional(),
  seed: z.coerce.number().int().optional(),
  collection: z.string().min(1).optional(),
  failedOnly: z.boolean().optional(),
  includeFailed: z.boolean().optional(),
});
type RunOptions = z.infer<typeof RunOptions>;

function parseRunOptions(raw: unknown): RunOptions {
  const parsed = RunOptions.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const flag = String(issue.path[0]).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  throw new ArchivistError('usage', `--${flag}: ${issue.message}`);
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

function runFlags(command: Command): Command {
  return command
    .option('--set <step.param=value>', "a step param (repeatable), checked by the step's schema", collect)
    .option('--workers <n>', 'worker processes (default: one per core)')
    .option('--min-free <size>', "pause when the store's disk has less free: bytes, 500MB, 2GB or 5%")
    .option('--force', 'recompute even where an identical artifact exists')
    .option('--detach', 'run in the background; follow it with `run watch`');
}

function minFreeOf(home: Home, policy: Policy, spec: string | undefined): { bytes: number; spec: string } {
  const chosen = spec ?? home.config.runs.minFree[policy];
  return { spec: chosen, bytes: parseMinFree(chosen, diskSpace(home.layout.artifacts).total) };
}

export function registerRunStart(run: Command): void {
  runFlags(
    run
      .command('start <pipeline>')
      .description('freeze a collection into work items and process them')
      .requiredOption('--collection <name>', 'the collection to process')
      .option('--policy <policy>', 'sandbox (default: shuffled, expiring) or production (kept, current)')
      .option('--seed <k>', 'order seed of a sandbox run (default: random)'),
  ).action(async (pipelineRef: string, _options: unknown, command: Command) => {
    const options = command.optsWithGlobals<GlobalOptions>();
    const o = parseRunOptions(command.opts());
    await withHome(options, async (home) => {
      // Everything the user typed is checked before anything is written: a refused run leaves no record.
      const pipeline = findPipeline(pipelineRef);
      const params = resolveParams(pipeline, o.set);
      const policy: Policy = o.policy ?? 'sandbox';
      const minFree = minFreeOf(home, policy, o.minFree);
      const { row, filters } = await getCollection(home.db, o.collection!);
      const assets = await resolveCollection(home.db, filters);
      if (assets.length === 0) {
        throw new ArchivistError('usage', `collection "${row.name}" has no assets`, {
          hint: 'Catalog a source first, or widen the collection.',
        });
      }
      const runId = await createRun(home.db, {
        pipeline,
        params,
        toolVersions: await detectToolVersions(pipeline),
        collectionName: row.name,
        scope: filters,
        assets,
        policy,
        minFree,
        workers: o.workers ?? defaultWorkers(home),
        maxAttempts: home.config.runs.maxAttempts,
        itemTimeoutMs: home.config.runs.itemTimeoutSec * 1000,
        force: o.force ?? false,
        seed: o.seed ?? Math.floor(Math.random() * 2 ** 31),
        parentRunId: null,
      });
      await launchRun(home, runId, {
        ...options,
        workers: o.workers ?? defaultWorkers(home),
        detach: o.detach,
      });
    });
  });

  runFlags(
    run
      .command('retry <run>')
      .description(
        'a new run (linked to the old one) over its items, optionally only the failed ones, with changed params',
      )
      .option('--failed-only', 'only the assets whose items failed')
      .option('--policy <policy>', "default: the old run's policy"),
  ).action(async (ref: string, _options: unknown, command: Command) => {
    const options = command.optsWithGlobals<GlobalOptions>();
    const o = parseRunOptions(command.opts());
    await withHome(options, async (home) => {
      const old = await findRun(home.db, ref);
      const pipeline = findPipeline(`${old.pipeline_name}@${old.pipeline_version}`);
      const params = resolveParams(
        pipeline,
        o.set,
        JSON.parse(old.params_json) as Record<string, Record<string, unknown>>,
      );
      const policy: Policy = o.policy ?? old.policy;
      let query = home.db
        .selectFrom('work_items')
        .innerJoin('assets', 'assets.id', 'work_items.asset_id')
        .select(['assets.id', 'assets.media_type', (eb) => eb.fn.min('work_items.order_key').as('order')])
        .where('work_items.run_id', '=', old.id)
        .groupBy('assets.id')
        .orderBy('order');
      if (o.failedOnly) query = query.where('work_items.status', '=', 'failed');
      const assets = (await query.execute()).map((row) => ({
        id: row.id,
        mediaType: row.media_type,
      }));
      if (assets.length === 0) {
        throw new ArchivistError(
          'usage',
          `run ${old.id} has no ${o.failedOnly ? 'failed ' : ''}items to retry`,
        );
      }
      const runId = await createRun(home.db, {
        pipeline,
        params,
        toolVersions: await detectToolVersions(pipeline),
        collectionName: old.collection_name,
        scope: { retryOf: old.id, failedOnly: o.failedOnly ?? false },
        assets,
        policy,
        minFree: minFreeOf(home, policy, o.minFree ?? old.min_free_spec),
        workers: o.workers ?? old.workers,
        maxAttempts: home.config.runs.maxAttempts,
        itemTimeoutMs: home.config.runs.itemTimeoutSec * 1000,
        force: o.force ?? false,
        seed: old.seed,
        parentRunId: old.id,
      });
      await launchRun(home, runId, { ...options, workers: o.workers ?? old.workers, detach: o.detach });
    });
  });

  run
    .command('resume <run>')
    .description('continue a cancelled, paused or interrupted run where it stopped')
    .option('--include-failed', 'also try its failed items again (attempts start over)')
    .option('--workers <n>', 'worker processes (default: as before)')
    .option('--min-free <size>', 'a new disk threshold (e.g. after freeing space elsewhere)')
    .option('--detach', 'run in the background')
    .action(async (ref: string, _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const o = parseRunOptions(command.opts());
      await withHome(options, async (home) => {
        const old = await findRun(home.db, ref);
        if (old.status === 'completed') {
          throw new ArchivistError('usage', `run ${old.id} is completed; a completed run never changes`, {
            hint: `To process its items again, use \`archivist run retry ${old.id}\` (a new run linked to it).`,
          });
        }
        if (old.status === 'running' || old.status === 'cancelling') {
          throw new ArchivistError(
            'usage',
            `run ${old.id} is ${old.status} (coordinator pid ${old.coordinator_pid ?? '?'})`,
            {
              hint: 'Watch it with `archivist run watch`, or cancel it first.',
            },
          );
        }
        if (o.minFree) {
          const minFree = minFreeOf(home, old.policy, o.minFree);
          await home.db
            .updateTable('runs')
            .set({ min_free_bytes: minFree.bytes, min_free_spec: minFree.spec })
            .where('id', '=', old.id)
            .execute();
        }
        if (o.includeFailed) {
          await home.db
            .updateTable('work_items')
            .set({ status: 'pending', attempts: 0, not_before: 0, finished_at: null })
            .where('run_id', '=', old.id)
            .where((eb) =>
              eb.or([
                eb('status', '=', 'failed'),
                eb.and([eb('status', '=', 'skipped'), eb('reason', '=', 'input-unavailable')]),
              ]),
            )
            .execute();
        }
        const workers = o.workers ?? old.workers;
        await launchRun(home, old.id, { ...options, workers, detach: o.detach });
      });
    });

  run
    .command('coordinate <run>', { hidden: true })
    .description('own a run in this process (what --detach starts in the background)')
    .option('--workers <n>', 'worker processes')
    .action(async (ref: string, _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const o = parseRunOptions(command.opts());
      await withHome(options, async (home) => {
        const run = await findRun(home.db, ref);
        await launchRun(home, run.id, { ...options, workers: o.workers ?? run.workers });
      });
    });
}
