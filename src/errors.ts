/**
 * The one error type of Archivist. Every failure a user can see carries a stable `code`, says whether
 * trying again could help (`retryable`), and keeps what caused it (`cause`). Expected outcomes of a step
 * are values, not exceptions; this type is for things that stop a command.
 */
export type ErrorCode =
  | 'usage' // bad arguments or input: exit 2
  | 'home-missing'
  | 'home-foreign'
  | 'home-too-new'
  | 'archive-mismatch'
  | 'config-invalid'
  | 'source-invalid'
  | 'source-exists'
  | 'source-overlap'
  | 'source-unknown'
  | 'asset-unknown'
  | 'asset-ambiguous'
  | 'not-found'
  | 'io'
  | 'database'
  | 'internal';

/** Codes that mean "the user asked for something that cannot be": exit code 2. */
const USAGE_CODES: ReadonlySet<ErrorCode> = new Set([
  'usage',
  'home-missing',
  'home-foreign',
  'home-too-new',
  'archive-mismatch',
  'config-invalid',
  'source-invalid',
  'source-exists',
  'source-overlap',
  'source-unknown',
  'asset-unknown',
  'asset-ambiguous',
  'not-found',
]);

export class ArchivistError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  /** What the user can do about it, printed under the message. */
  readonly hint: string | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { retryable?: boolean; cause?: unknown; hint?: string } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'ArchivistError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.hint = options.hint;
  }

  get exitCode(): number {
    return USAGE_CODES.has(this.code) ? 2 : 1;
  }

  toJSON(): { code: ErrorCode; message: string; retryable: boolean; hint?: string } {
    return {
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      ...(this.hint ? { hint: this.hint } : {}),
    };
  }
}

/** Node's system errors carry a `code` such as ENOENT; this reads it without `any`. */
export function errnoCode(error: unknown): string | undefined {
  if (error && typeof error === 'object' && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return undefined;
}
