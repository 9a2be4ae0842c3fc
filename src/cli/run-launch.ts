import type { Home } from '../home/home.js';
import { coordinateRun } from '../runs/coordinator.js';
import { toRunJson } from '../runs/run-json.js';
import { launchCoordinator } from '../runs/spawn-coordinator.js';
import { getRun } from '../store/runs-repository.js';
import { emit, type GlobalOptions } from './output.js';
import { ProgressLine } from './progress.js';
import { coverageLine, describeRun, runExitCode } from './run-format.js';

/**
 * Runs a planned (or resumable) run: in the foreground with live progress, or `--detach`ed as a
 * background coordinator whose output goes to the home's logs. Sets the exit code of PRODUCT section 5.
 */
export async function launchRun(
  home: Home,
  runId: string,
  options: GlobalOptions & { workers: number; detach?: boolean },
): Promise<void> {
  if (options.detach) {
    const { pid, log } = await launchCoordinator(home, runId, options.workers);
    emit(options, { id: runId, status: 'queued', detached: true, coordinatorPid: pid, log }, () =>
      [
        `Run ${runId} started in the background (coordinator pid ${pid}).`,
        `Watch it: archivist run watch ${runId}`,
        `Log: ${log}`,
      ].join('\n'),
    );
    return;
  }
  const progress = new ProgressLine();
  await coordinateRun(home, runId, {
    workers: options.workers,
    // One bar per step, redrawn in place; a background coordinator has no terminal to draw on.
    onTick: progress.live
      ? (snapshot) =>
          progress.update([
            `Run ${runId} ${snapshot.status}`,
            ...Object.entries(snapshot.steps).map(([step, counts]) => `  ${coverageLine(step, counts)}`),
          ])
      : undefined,
  });
  progress.done();
  const run = await toRunJson(home.db, await getRun(home.db, runId));
  emit(options, run, () => describeRun(run));
  process.exitCode = runExitCode(run);
}
