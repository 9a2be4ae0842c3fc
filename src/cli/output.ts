import { ArchivistError } from '../errors.js';
import { printable } from './printable.js';

/** Options every command understands. */
export interface GlobalOptions {
  home?: string;
  json?: boolean;
}

/**
 * One JSON document on stdout with --json (the contract scripts rely on, with every string exact),
 * otherwise text for a person, in which no control character from a file name or a tool reaches the
 * terminal (each value is escaped where it is put in a line; this catches what a line holds beyond).
 */
export function emit(options: { json?: boolean }, json: unknown, human: () => string): void {
  if (options.json) process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  else process.stdout.write(`${printable(human(), { keepNewlines: true })}\n`);
}

/** Prints an error the way a person (or a script with --json) can act on, and returns the exit code. */
export function reportError(error: unknown, json: boolean): number {
  const known =
    error instanceof ArchivistError
      ? error
      : new ArchivistError('internal', error instanceof Error ? error.message : String(error), {
          cause: error,
        });
  if (json) {
    process.stdout.write(`${JSON.stringify({ error: known.toJSON() }, null, 2)}\n`);
  }
  // Messages quote paths and tools: escaped like everything else a person reads.
  process.stderr.write(`archivist: ${printable(known.message, { keepNewlines: true })}\n`);
  if (known.hint) process.stderr.write(`  ${printable(known.hint, { keepNewlines: true })}\n`);
  if (known.code === 'internal' && error instanceof Error && error.stack) {
    process.stderr.write(`${error.stack}\n`);
  }
  return known.exitCode;
}

/** Left-aligned columns for human output. */
export function table(rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => (row[col] ?? '').length)));
  return rows
    .map((row) =>
      row
        .map((cell, col) => (col === row.length - 1 ? cell : cell.padEnd(widths[col]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** `1 problem`, `2 problems`: a count with its noun, as a person writes it. */
export function plural(count: number, noun: string, nouns = `${noun}s`): string {
  return `${count.toLocaleString('en-US')} ${count === 1 ? noun : nouns}`;
}

export { formatSize as formatBytes } from '../runs/disk-threshold.js';
