import { printable } from './printable.js';

/**
 * A live progress display on stderr of one or more lines, redrawn in place. Drawn only when stderr is a
 * terminal (and not in CI): piped output and --json stay clean.
 */
export class ProgressLine {
  private readonly stream: NodeJS.WriteStream;
  private readonly enabled: boolean;
  private drawn = 0;

  constructor(stream: NodeJS.WriteStream = process.stderr) {
    this.stream = stream;
    this.enabled = Boolean(stream.isTTY) && process.env.CI !== 'true';
  }

  get live(): boolean {
    return this.enabled;
  }

  /** Replaces what was drawn with these lines (each cut to the terminal's width). */
  update(text: string | readonly string[]): void {
    if (!this.enabled) return;
    const width = (this.stream.columns || 100) - 1;
    const lines = (typeof text === 'string' ? [text] : text)
      .map((line) => printable(line))
      .map((line) => (line.length > width ? `${line.slice(0, width - 1)}…` : line));
    // Back to the first line drawn last time, then rewrite every line (clearing what was there).
    let out = this.drawn > 1 ? `\x1b[${this.drawn - 1}A\r` : '\r';
    out += lines.map((line) => `\x1b[2K${line}`).join('\n');
    for (let extra = lines.length; extra < this.drawn; extra++) out += '\n\x1b[2K';
    if (this.drawn > lines.length) out += `\x1b[${this.drawn - lines.length}A`;
    this.stream.write(out);
    this.drawn = Math.max(lines.length, 1);
  }

  /** Erases the display, leaving the cursor where it began. */
  done(): void {
    if (!this.enabled || this.drawn === 0) return;
    let out = this.drawn > 1 ? `\x1b[${this.drawn - 1}A\r` : '\r';
    out += Array.from({ length: this.drawn }, () => '\x1b[2K').join('\n');
    if (this.drawn > 1) out += `\x1b[${this.drawn - 1}A`;
    this.stream.write(`${out}\r`);
    this.drawn = 0;
  }
}

/** A bar such as `[#####.....]` for a fraction between 0 and 1. */
export function bar(fraction: number, width = 24): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}
