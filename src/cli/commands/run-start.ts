import type { Command } from 'commander';
import { findRun } from '../../store/runs-repository.js';
import { prepareResume, retryRun, startRun } from '../../runs/run-requests.js';
import type { GlobalOptions } from '../output.js';
import { launchRun } from '../run-launch.js';
import { withHome } from '../with-home.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

interface Flags {
  set?: string[];
  workers?: string;
  minFree?: string;
  force?: boolean;
  detach?: boolean;
  policy?: string;
  seed?: string;
  collection?: string;
  failedOnly?: boolean;
  includeFailed?: boolean;
}

function runFlags(command: Command): Command {
  return command
    .option('--set <step.param=value>', "a step param (repeatable), checked by the step's schema", collect)
    .option('--workers <n>', 'worker processes (default: one per core)')
    .option('--min-free <size>', "pause when the store's disk has less free: bytes, 500MB, 2GB or 5%")
    .option('--force', 'recompute even where an identical artifact exists')
    .option('--detach', 'run in the background; follow it with `run watch`');
}

export function registerRunStart(run: Command): void {
  runFlags(
    run
      .command('start <pipeline>')
      .description('freeze a collection into work items and process them')
      .requiredOption('--collection <name>', 'the collection to process')
      .option('--policy <policy>', 'sandbox (default: shuffled, expiring) or production (kept, current)')
      .option('--seed <k>', 'order seed of a sandbox run (default: random)'),
  ).action(async (pipeline: string, _options: unknown, command: Command) => {
    const options = command.optsWithGlobals<GlobalOptions>();
    const flags = command.opts<Flags>();
    await withHome(options, async (home) => {
      const { runId, workers } = await startRun(home, {
        pipeline,
        collection: flags.collection!,
        ...(flags.policy !== undefined ? { policy: flags.policy } : {}),
        set: flags.set ?? [],
        ...(flags.workers !== undefined ? { workers: flags.workers } : {}),
        ...(flags.minFree !== undefined ? { minFree: flags.minFree } : {}),
        force: flags.force ?? false,
        ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
      });
      await launchRun(home, runId, { ...options, workers, detach: flags.detach });
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
    const flags = command.opts<Flags>();
    await withHome(options, async (home) => {
      const { runId, workers } = await retryRun(home, {
        run: ref,
        failedOnly: flags.failedOnly ?? false,
        set: flags.set ?? [],
        ...(flags.policy !== undefined ? { policy: flags.policy } : {}),
        ...(flags.workers !== undefined ? { workers: flags.workers } : {}),
        ...(flags.minFree !== undefined ? { minFree: flags.minFree } : {}),
        force: flags.force ?? false,
      });
      await launchRun(home, runId, { ...options, workers, detach: flags.detach });
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
      const flags = command.opts<Flags>();
      await withHome(options, async (home) => {
        const { runId, workers } = await prepareResume(home, {
          run: ref,
          includeFailed: flags.includeFailed ?? false,
          ...(flags.workers !== undefined ? { workers: flags.workers } : {}),
          ...(flags.minFree !== undefined ? { minFree: flags.minFree } : {}),
        });
        await launchRun(home, runId, { ...options, workers, detach: flags.detach });
      });
    });

  run
    .command('coordinate <run>', { hidden: true })
    .description('own a run in this process (what --detach starts in the background)')
    .option('--workers <n>', 'worker processes')
    .action(async (ref: string, _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const flags = command.opts<Flags>();
      // Its stdout and stderr are a log file in the home: on a full disk a line there cannot be written,
      // and that must not take down the coordinator (its run's state is in the database, not in the file).
      for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
      await withHome(options, async (home) => {
        const run = await findRun(home.db, ref);
        await launchRun(home, run.id, {
          ...options,
          workers: flags.workers ? Number(flags.workers) : run.workers,
        });
      });
    });
}
