import type { Command } from 'commander';
import os from 'node:os';
import { ArchivistError } from '../../errors.js';
import { findPipeline } from '../../pipeline/registry.js';
import { configureTools, endTools } from '../../pipeline/tools/lifecycle.js';
import { openRunLog } from '../../runs/run-log.js';
import { runWorkerLoop } from '../../runs/worker.js';
import { findRun } from '../../store/runs-repository.js';
import { emit, type GlobalOptions } from '../output.js';
import { withHome } from '../with-home.js';

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('a standalone worker: claims items of a running run from the database until it is done')
    .requiredOption('--run <run>', 'the run to work on (its coordinator must be running)')
    .action(async (_options: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const { run: ref } = command.opts<{ run: string }>();
      await withHome(options, async (home) => {
        const run = await findRun(home.db, ref);
        configureTools(home.config.tools, home.layout.toolVersions);
        if (run.status !== 'running') {
          throw new ArchivistError('usage', `run ${run.id} is ${run.status}; a worker joins a running run`);
        }
        const stop = new AbortController();
        const abortWork = new AbortController();
        const onSignal = () => {
          stop.abort();
          abortWork.abort();
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        const workerId = `${os.hostname()}:${process.pid}`;
        const why = await runWorkerLoop({
          home,
          run,
          pipeline: findPipeline(`${run.pipeline_name}@${run.pipeline_version}`),
          workerId,
          stop: stop.signal,
          abortWork: abortWork.signal,
          send: () => undefined,
          log: openRunLog(home.layout, run.id, 'standalone-worker'),
        });
        await endTools();
        emit(
          options,
          { run: run.id, worker: workerId, stopped: why },
          () => `Worker ${workerId} stopped: ${why}.`,
        );
      });
    });
}
