import type { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { detectInterruptedRuns } from '../../runs/detect-interrupted.js';
import { cancelRun } from '../../runs/run-requests.js';
import { runListJson, toRunJson } from '../../runs/run-json.js';
import { runCoverage } from '../../store/run-outcomes-repository.js';
import { findRun, getRun } from '../../store/runs-repository.js';
import { emit, table, type GlobalOptions } from '../output.js';
import { printable } from '../printable.js';
import { ProgressLine } from '../progress.js';
import { coverageLine, describeRun, runExitCode } from '../run-format.js';
import { withHome } from '../with-home.js';

const ACTIVE = new Set(['queued', 'running', 'cancelling']);

export function registerRunView(run: Command): void {
  run
    .command('list')
    .description('runs, newest first, with status and coverage')
    .action(async (_options: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      await withHome(options, async (home) => {
        const runs = await runListJson(home.db);
        emit(options, runs, () =>
          runs.length === 0
            ? 'No runs yet. Start one with: archivist run start <pipeline> --collection <name>'
            : table([
                ['ID', 'STATUS', 'PIPELINE', 'POLICY', 'COLLECTION', 'DONE', 'FAILED', 'SKIPPED', 'CREATED'],
                ...runs.map((r) => [
                  r.id,
                  r.status,
                  `${r.pipeline.name}@${r.pipeline.version}`,
                  r.policy,
                  printable(r.collection ?? '-'),
                  `${r.counts.done}/${r.counts.total}`,
                  String(r.counts.failed),
                  String(r.counts.skipped),
                  r.createdAt,
                ]),
              ]),
        );
      });
    });

  run
    .command('show <run>')
    .description("a run's record, coverage per step, failures grouped by reason, and its figures")
    .action(async (ref: string, _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      await withHome(options, async (home) => {
        const json = await toRunJson(home.db, await findRun(home.db, ref));
        emit(options, json, () => describeRun(json));
      });
    });

  run
    .command('watch <run>')
    .description('live progress per step until the run stops')
    .action(async (ref: string, _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      await withHome(options, async (home) => {
        const { id } = await findRun(home.db, ref);
        const progress = new ProgressLine();
        let last = '';
        for (;;) {
          // A coordinator killed while we watch is noticed here, at once for a dead pid on this host and
          // within COORDINATOR_STALE_MS for a silent one elsewhere, as any new command would notice it.
          // The check writes; when it cannot (a full disk), watching goes on and says nothing false.
          await detectInterruptedRuns(home.db).catch(() => undefined);
          const row = await getRun(home.db, id);
          const { steps } = await runCoverage(home.db, id);
          const lines = [
            `Run ${id} ${row.status}${row.status_reason ? ` (${printable(row.status_reason)})` : ''}`,
            ...Object.entries(steps).map(([step, counts]) => `  ${coverageLine(step, counts)}`),
          ];
          const text = lines.join('\n');
          // On a terminal the bars are redrawn in place; piped, each change is printed once.
          if (progress.live) progress.update(lines);
          else if (text !== last && !options.json)
            process.stderr.write(`${printable(text, { keepNewlines: true })}\n`);
          last = text;
          if (!ACTIVE.has(row.status)) break;
          await sleep(500);
        }
        progress.done();
        const json = await toRunJson(home.db, await getRun(home.db, id));
        emit(options, json, () => describeRun(json));
        process.exitCode = runExitCode(json);
      });
    });

  run
    .command('cancel <run>')
    .description(
      'stop a run: no new claims, in-flight steps aborted after a short grace; committed work stays',
    )
    .action(async (ref: string, _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      await withHome(options, async (home) => {
        const row = await findRun(home.db, ref);
        await cancelRun(home, row.id);
        const json = await toRunJson(home.db, await getRun(home.db, row.id));
        emit(options, json, () =>
          json.status === 'cancelled'
            ? `Run ${json.id} cancelled: ${json.counts.done} done, ${json.counts.pending} pending (resume with: archivist run resume ${json.id})`
            : `Run ${json.id} is ${json.status}.`,
        );
      });
    });
}
