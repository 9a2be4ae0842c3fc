import fs from 'node:fs';
import path from 'node:path';

/**
 * Where a tool came from: an explicit path in the home's config, the system (PATH), an npm package, or
 * something bundled inside an npm package. Recorded so that a result can say which binary made it.
 */
export type ToolSource = 'config' | 'system' | 'npm' | 'bundled';

/**
 * What detecting one external tool found. A missing or broken tool is a value, not an exception: the
 * caller (doctor now, run start later) decides whether it is fatal.
 */
export interface ToolReport {
  name: string;
  /** The tool's own version string, as it reports it; null when it could not be run. */
  version: string | null;
  /** The executable, package directory or script that was (or would have been) used. */
  path: string | null;
  source: ToolSource | null;
  ok: boolean;
  /** Why `ok` is false, in words a user can act on. */
  problem?: string;
  /** What to do about the problem. */
  hint?: string;
}

/**
 * Finds an executable on PATH the way a shell does, without spawning one. Only regular files with an
 * execute bit count, so a directory or a non-executable file named `ffmpeg` is not mistaken for it.
 */
export function findOnPath(command: string, env: NodeJS.ProcessEnv = process.env): string | null {
  const dirs = (env.PATH ?? '').split(path.delimiter).filter((dir) => dir !== '');
  const extensions =
    process.platform === 'win32' ? ['', ...(env.PATHEXT ?? '.EXE;.CMD;.BAT').toLowerCase().split(';')] : [''];
  for (const dir of dirs) {
    for (const extension of extensions) {
      const candidate = path.join(dir, command + extension);
      if (isExecutableFile(candidate)) return candidate;
    }
  }
  return null;
}

export function isExecutableFile(file: string): boolean {
  try {
    if (!fs.statSync(file).isFile()) return false;
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The message of anything thrown, for a report's `problem`. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * What went wrong when a port ran its tool. `missing`: the tool cannot be started at all (not installed,
 * broken install); `failed`: it ran and refused the input; `aborted`: our signal stopped it (cancel or
 * timeout). Steps turn these into classified failures; they never reach the worker as exceptions.
 */
export class ToolError extends Error {
  readonly tool: string;
  readonly kind: 'missing' | 'failed' | 'aborted';
  /** The last lines the tool wrote to stderr, kept on the failed item for a person to read. */
  readonly stderrTail: string | undefined;
  /** Set when the tool died before it answered: the failure says nothing about the file, so try again. */
  readonly retryable: boolean;

  constructor(
    tool: string,
    kind: ToolError['kind'],
    message: string,
    options: { stderrTail?: string; cause?: unknown; retryable?: boolean } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'ToolError';
    this.tool = tool;
    this.kind = kind;
    this.stderrTail = options.stderrTail;
    this.retryable = options.retryable ?? false;
  }
}

/** The last `lines` non-empty lines of a tool's output, capped in size so a chatty tool cannot bloat a row. */
export function tailOf(text: string, lines = 20, maxChars = 4000): string {
  const kept = text
    .split(/\r?\n/)
    .map((line) => line.trimEnd())
    .filter((line) => line !== '')
    .slice(-lines)
    .join('\n');
  return kept.length > maxChars ? kept.slice(-maxChars) : kept;
}

/** The first non-empty line of a message: failure messages are one line; the rest goes to stderrTail. */
export function firstLineOf(text: string, maxChars = 300): string {
  const line = text.split(/\r?\n/).find((l) => l.trim() !== '') ?? '';
  return line.trim().slice(0, maxChars);
}
