import type { Command } from 'commander';
import { catalogSource, type CatalogSummary } from '../../catalog/catalog-source.js';
import { makeJunkFilter } from '../../catalog/junk.js';
import { resolveSources } from '../../catalog/sources.js';
import { emit, formatBytes, plural, type GlobalOptions } from '../output.js';
import { printable } from '../printable.js';
import { ProgressLine } from '../progress.js';
import { withHome } from '../with-home.js';

function describe(summary: CatalogSummary): string {
  const lines = [
    `${printable(summary.source)}: ${plural(summary.scanned, 'file')} scanned in ${(summary.durationMs / 1000).toFixed(1)} s ` +
      `(${summary.hashed} read, ${formatBytes(summary.bytesHashed)})`,
    `  new ${summary.new}, changed ${summary.changed}, unchanged ${summary.unchanged}, moved ${summary.moved}, ` +
      `missing ${summary.missing}, back ${summary.restored}`,
  ];
  if (summary.sidecars.linked > 0)
    lines.push(`  ${plural(summary.sidecars.linked, 'sidecar')} linked to their media files`);
  if (summary.missingTotal > summary.missing)
    lines.push(`  ${plural(summary.missingTotal, 'location')} missing in all (kept, marked missing)`);
  if (summary.skipped.junk + summary.skipped.symlinks > 0) {
    lines.push(
      `  skipped: ${summary.skipped.junk} junk, ${plural(summary.skipped.symlinks, 'symlink')} (never followed)`,
    );
  }
  if (summary.errors.length > 0) {
    lines.push(`  ${plural(summary.errors.length, 'problem')}:`);
    for (const error of summary.errors.slice(0, 20))
      lines.push(`    ${error.reason.padEnd(22)} ${printable(error.path)}: ${printable(error.message)}`);
    if (summary.errors.length > 20)
      lines.push(`    … ${summary.errors.length - 20} more (use --json for all)`);
  }
  return lines.join('\n');
}

export function registerCatalog(program: Command): void {
  program
    .command('catalog [sources...]')
    .description('walk sources read-only: hash new and changed files, detect moves and missing files')
    .action(async (names: string[], _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      await withHome(options, async (home) => {
        const sources = await resolveSources(home, names);
        const isJunk = makeJunkFilter(home.config.catalog.ignore);
        const progress = new ProgressLine();
        const summaries: CatalogSummary[] = [];
        for (const source of sources) {
          try {
            summaries.push(
              await catalogSource(home.db, source, {
                isJunk,
                hashConcurrency: home.config.catalog.hashConcurrency,
                onProgress: (p) =>
                  progress.update(
                    `${p.source}: ${p.scanned} files, ${p.hashed} read (${formatBytes(p.bytesHashed)})`,
                  ),
              }),
            );
          } finally {
            progress.done();
          }
        }
        // Always an array, one summary per source, so scripts see one shape however many sources there are.
        emit(options, summaries, () => summaries.map(describe).join('\n'));
      });
    });
}
