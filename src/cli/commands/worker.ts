import type { Command } from 'commander';
import os from 'node:os';
import path from 'node:path';
import { ArchivistError } from '../../errors.js';
import { openHome, type Home } from '../../home/home.js';
import { resolveHomePath } from '../../home/home-path.js';
import { configureTools, endTools } from '../../pipeline/tools/lifecycle.js';
import { detectInterruptedRuns } from '../../runs/detect-interrupted.js';
import { checkSourceMapping, parseSourceMaps, type MappingCheck } from '../../runs/source-mapping.js';
import { workStandalone } from '../../runs/standalone-worker.js';
import { runWorkerFleet } from '../../runs/worker-fleet.js';
import { defaultWorkerState, openWorkerHost } from '../../runs/worker-host.js';
import { wholeNumber } from '../../whole-number.js';
import { emit, type GlobalOptions } from '../output.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

interface WorkerFlags {
  database?: string;
  run?: string;
  all?: boolean;
  workers: string;
  map: string[];
  store?: string;
  state?: string;
}

/** Set by a worker fleet for its children: the parent already checked the store and the mapping. */
const CHECKED_ENV = 'ARCHIVIST_WORKER_CHECKED';
/** How long an idle worker waits for a wake-up hint before it looks anyway (tests make it long). */
const POLL_ENV = 'ARCHIVIST_WORKER_POLL_MS';

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description(
      'a worker on this host: joins running runs and claims their items from the database (another host: --database and --store)',
    )
    .option('--database <url>', "the archive's database (postgres://...); this host needs no home")
    .option('--run <run>', 'work on this run only (its coordinator must be running)')
    .option('--all', 'work on every running run, and wait for the next one (until SIGINT/SIGTERM)')
    .option('--workers <n>', 'worker processes on this host', '1')
    .option('--map <source=path>', 'where this host sees a source (repeatable)', collect, [])
    .option('--store <path>', "the artifact store (the home's artifacts/ folder) as this host mounts it")
    .option('--state <dir>', `this host's logs and tool versions (default ${defaultWorkerState()})`)
    .action(async (_options: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const flags = command.opts<WorkerFlags>();
      if (!flags.run === !flags.all) {
        throw new ArchivistError('usage', 'give either --run <run> or --all', { field: 'run' });
      }
      const workers = wholeNumber({ min: 1, max: 256 }).safeParse(flags.workers);
      if (!workers.success) {
        throw new ArchivistError('usage', `--workers ${flags.workers}: expected 1 to 256`, {
          field: 'workers',
        });
      }
      const roots = parseSourceMaps(flags.map);
      const home = await openWorkerOrHome(options, flags);
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        await detectInterruptedRuns(home.db);
        // Before the first claim: a wrong mapping would fail (or mislabel) every item it touches.
        const checks: MappingCheck[] =
          process.env[CHECKED_ENV] === '1' ? [] : await checkSourceMapping(home.db, roots);
        const workerCount = workers.data;
        if (workerCount > 1) {
          const argv = childArgv();
          const children = await runWorkerFleet(
            argv,
            workerCount,
            { ...process.env, [CHECKED_ENV]: '1' },
            stop.signal,
          );
          emit(options, { host: os.hostname(), checks, workers: children.map((c) => c.report) }, () =>
            children
              .map((c) => (typeof c.report === 'string' ? c.report : JSON.stringify(c.report)))
              .join('\n'),
          );
          return;
        }
        configureTools(home.config.tools, home.layout.toolVersions);
        const runs = await workStandalone({
          home,
          runRef: flags.run,
          sourceRoots: roots,
          pollMs: Number(process.env[POLL_ENV] ?? 2_000),
          stop: stop.signal,
        });
        await endTools();
        const worker = `${os.hostname()}:${process.pid}`;
        emit(options, { worker, host: os.hostname(), store: home.layout.artifacts, checks, runs }, () =>
          [
            ...checks.map((c) => `Source ${c.source} at ${c.root}: ${c.checked} cataloged files checked.`),
            ...runs.map(
              (r) => `Worker ${worker} on run ${r.run}: ${r.stopped}${r.reason ? ` (${r.reason})` : ''}.`,
            ),
            ...(runs.length === 0 ? [`Worker ${worker} stopped before any run.`] : []),
          ].join('\n'),
        );
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await home.close();
      }
    });
}

/**
 * With --database this host has no home: the database, the store as mounted here and this host's state.
 * Without it, the worker works for the home (--home / $ARCHIVIST_HOME) on this host.
 */
async function openWorkerOrHome(options: GlobalOptions, flags: WorkerFlags): Promise<Home> {
  if (!flags.database) {
    if (flags.store) {
      throw new ArchivistError('usage', '--store goes with --database (a worker on another host)', {
        field: 'store',
      });
    }
    return openHome(resolveHomePath(options.home));
  }
  if (!flags.store) {
    throw new ArchivistError(
      'usage',
      'a worker with --database needs --store: the artifact store as this host mounts it',
      {
        field: 'store',
        hint: "The home's artifacts/ folder, shared with every host (NFS, SMB), e.g. --store /mnt/nas/archivist/artifacts.",
      },
    );
  }
  return openWorkerHost({
    database: flags.database,
    store: flags.store,
    stateDir: path.resolve(flags.state ?? defaultWorkerState()),
  });
}

/** This command again, as one worker process: the same flags with `--workers 1`. */
function childArgv(): string[] {
  const args = process.argv.slice(1);
  const at = args.findIndex((a) => a === '--workers' || a.startsWith('--workers='));
  const rest =
    at === -1 ? args : [...args.slice(0, at), ...args.slice(at + (args[at]!.includes('=') ? 1 : 2))];
  return [...rest, '--workers', '1'];
}
