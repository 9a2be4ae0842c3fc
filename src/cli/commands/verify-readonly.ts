import type { Command } from 'commander';
import { baselinePath, loadBaseline, newBaseline, saveBaseline } from '../../catalog/read-only-baseline.js';
import {
  buildManifest,
  diffManifests,
  type FieldValue,
  type ManifestDifference,
  type ManifestField,
} from '../../catalog/read-only-manifest.js';
import { resolveSources } from '../../catalog/sources.js';
import { emit, formatBytes, plural, type GlobalOptions } from '../output.js';
import { ProgressLine } from '../progress.js';
import { printable } from '../printable.js';
import { withHome } from '../with-home.js';

interface VerifyOptions extends GlobalOptions {
  reset?: boolean;
}

export function registerVerifyReadonly(program: Command): void {
  program
    .command('verify-readonly <source>')
    .description(
      'check that nothing under a source changed: every entry (size, times, inode, mode, content hash) ' +
        'against a baseline kept in the home',
    )
    .option('--reset', 'replace the stored baseline with the source as it is now')
    .action(async (name: string, _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<VerifyOptions>();
      await withHome(options, async (home) => {
        // One name in, one source out (an unknown name throws source-unknown: exit 2).
        const source = (await resolveSources(home, [name]))[0]!;
        // Read before the (long) manifest: a damaged or mismatched baseline is reported without waiting.
        const previous = options.reset ? undefined : loadBaseline(home.layout, source);
        const progress = new ProgressLine();
        let entries;
        try {
          entries = await buildManifest(source.path, {
            concurrency: home.config.catalog.hashConcurrency,
            onProgress: (p) =>
              progress.update(
                `${source.name}: ${plural(p.entries, 'entry', 'entries')}, ${plural(p.hashed, 'file')} read (${formatBytes(p.bytesHashed)})`,
              ),
          });
        } finally {
          progress.done();
        }

        if (!previous) {
          const baseline = newBaseline(source, entries);
          const file = saveBaseline(home.layout, source, baseline);
          const json = {
            source: source.name,
            sourcePath: source.path,
            baseline: 'created' as const,
            baselineAt: baseline.createdAt,
            baselinePath: file,
            replaced: Boolean(options.reset),
            entries: entries.length,
            identical: true,
            differences: [] as ManifestDifference[],
          };
          emit(options, json, () =>
            [
              `${options.reset ? 'Replaced the' : 'Created a'} baseline of source "${source.name}" ` +
                `(${source.path}): ${plural(entries.length, 'entry', 'entries')}.`,
              `Stored in ${file} (in the home; nothing was written under the source).`,
              `Run \`archivist verify-readonly ${source.name}\` again later to check that nothing changed.`,
            ].join('\n'),
          );
          return;
        }

        const differences = diffManifests(previous.entries, entries);
        const json = {
          source: source.name,
          sourcePath: source.path,
          baseline: 'compared' as const,
          baselineAt: previous.createdAt,
          baselinePath: baselinePath(home.layout, source),
          entries: entries.length,
          identical: differences.length === 0,
          differences,
        };
        emit(options, json, () => describe(json));
        // Any difference is the finding this command exists for, so it fails the command (exit 1).
        process.exitCode = differences.length > 0 ? 1 : 0;
      });
    });
}

function describe(result: {
  source: string;
  sourcePath: string;
  baselineAt: string;
  entries: number;
  differences: readonly ManifestDifference[];
}): string {
  const head = `Source "${printable(result.source)}" (${printable(result.sourcePath)}): ${plural(result.entries, 'entry', 'entries')} compared with the baseline of ${result.baselineAt}.`;
  if (result.differences.length === 0) {
    return `${head}\nIDENTICAL: nothing under the source changed since the baseline.`;
  }
  const lines = [head, `CHANGED: ${result.differences.length} difference(s) since the baseline:`];
  const width = Math.min(60, Math.max(...result.differences.map((d) => printable(d.path).length)));
  for (const difference of result.differences) {
    const label = `  ${difference.change.padEnd(8)} ${printable(difference.path).padEnd(width)}  ${difference.type}`;
    if (!difference.fields) {
      lines.push(label);
      continue;
    }
    lines.push(label);
    for (const [field, change] of Object.entries(difference.fields)) {
      const f = field as ManifestField;
      lines.push(`      ${FIELD_LABEL[f].padEnd(7)} ${show(f, change.old)} → ${show(f, change.new)}`);
    }
  }
  lines.push(
    'Archivist never writes under a source: something else changed it. When the changes are expected, ' +
      `accept them with \`archivist verify-readonly ${result.source} --reset\`.`,
  );
  return lines.join('\n');
}

const FIELD_LABEL: Record<ManifestField, string> = {
  type: 'type',
  size: 'size',
  mtimeNs: 'mtime',
  ctimeNs: 'ctime',
  inode: 'inode',
  mode: 'mode',
  target: 'target',
  sha256: 'sha256',
  unreadable: 'unreadable',
};

function show(field: ManifestField, value: FieldValue): string {
  if (value === null) return '(none)';
  switch (field) {
    case 'mtimeNs':
    case 'ctimeNs':
      return nsToIso(String(value));
    case 'mode':
      return `0${Number(value).toString(8)}`;
    case 'sha256':
      return `${String(value).slice(0, 16)}…`;
    default:
      return printable(String(value)); // a symlink's target is a path like any other
  }
}

/** Nanosecond timestamps in full: a touch within the same millisecond must still look different. */
function nsToIso(ns: string): string {
  const value = BigInt(ns);
  if (value < 0n) return `${ns} ns`;
  const seconds = new Date(Number(value / 1_000_000_000n) * 1000).toISOString().slice(0, 19);
  return `${seconds}.${(value % 1_000_000_000n).toString().padStart(9, '0')}Z`;
}
