/**
 * A one-line progress display on stderr, drawn only when stderr is a terminal: piped output and
 * --json stay clean.
 */
export class ProgressLine {
  private readonly enabled: boolean;
  private lastLength = 0;

  constructor(stream: NodeJS.WriteStream = process.stderr) {
    this.stream = stream;
    this.enabled = Boolean(stream.isTTY) && process.env.CI !== 'true';
  }

  private readonly stream: NodeJS.WriteStream;

  update(text: string): void {
    if (!this.enabled) return;
    const width = (this.stream.columns || 100) - 1;
    const line = text.length > width ? `${text.slice(0, width - 1)}…` : text;
    this.stream.write(`\r${line.padEnd(this.lastLength)}`);
    this.lastLength = line.length;
  }

  done(): void {
    if (!this.enabled || this.lastLength === 0) return;
    this.stream.write(`\r${' '.repeat(this.lastLength)}\r`);
    this.lastLength = 0;
  }
}

/** A bar such as `[#####.....]` for a fraction between 0 and 1. */
export function bar(fraction: number, width = 24): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}
