import type { Command } from 'commander';
import { collectGarbage } from '../../artifacts/collect-garbage.js';
import { emit, formatBytes, type GlobalOptions } from '../output.js';
import { withHome } from '../with-home.js';

export function registerGc(program: Command): void {
  program
    .command('gc')
    .description('delete expired sandbox artifacts, store files no record points to, and stale temp files')
    .option('--dry-run', 'only report what would be deleted')
    .action(async (_options: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const dryRun = Boolean(command.opts<{ dryRun?: boolean }>().dryRun);
      await withHome(options, async (home) => {
        const report = await collectGarbage(home, { dryRun });
        emit(options, report, () =>
          [
            `${dryRun ? 'Would delete' : 'Deleted'}: ${report.expiredArtifacts} expired sandbox artifacts, ` +
              `${report.orphanFiles} unreferenced files (${formatBytes(report.orphanBytes)}), ${report.tempEntries} stale temp entries.`,
            `Kept ${report.keptFiles} files that records point to.`,
          ].join('\n'),
        );
      });
    });
}
