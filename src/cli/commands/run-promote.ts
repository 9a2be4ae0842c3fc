import type { Command } from 'commander';
import { promoteRun, type Promotion } from '../../runs/promote-run.js';
import { toRunJson } from '../../runs/run-json.js';
import { getRun } from '../../store/runs-repository.js';
import { emit, plural, type GlobalOptions } from '../output.js';
import { withHome } from '../with-home.js';

function describe(p: Promotion): string {
  const lines = [
    `Promoted ${plural(p.kept, 'result')} of sandbox run ${p.fromRunId} to production run ${p.runId}, ` +
      'without computing anything again: they are now their assets’ current artifacts and no longer expire.',
  ];
  const left = Object.entries(p.leftOut).map(([why, n]) => `${n} ${why}`);
  if (left.length > 0) {
    lines.push(
      `Left out: ${left.join(', ')}. A production run computes them: ` +
        `archivist run retry ${p.fromRunId} --policy production`,
    );
  }
  return lines.join('\n');
}

export function registerRunPromote(run: Command): void {
  run
    .command('promote <run>')
    .description("keep a finished sandbox run's results as production ones, without computing them again")
    .action(async (ref: string, _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      await withHome(options, async (home) => {
        const promotion = await promoteRun(home, ref);
        const json = { ...(await toRunJson(home.db, await getRun(home.db, promotion.runId))), promotion };
        emit(options, json, () => describe(promotion));
      });
    });
}
