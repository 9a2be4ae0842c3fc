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
  | 'mapping-mismatch' // a worker host's --map does not show the cataloged files
  | 'config-invalid'
  | 'source-invalid'
  | 'source-exists'
  | 'source-overlap'
  | 'source-unknown'
  | 'asset-unknown'
  | 'asset-ambiguous'
  | 'not-found'
  | 'source-changed' // an original is no longer what the catalog saw
  | 'forbidden'
  | 'unauthorized'
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
  'mapping-mismatch',
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
  /** The input it concerns: a request field (`collection`, `workers`, `set`), or an option. */
  readonly field: string | undefined;
  /** For a step param: which one (`thumbnail.size`). */
  readonly param: string | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { retryable?: boolean; cause?: unknown; hint?: string; field?: string; param?: string } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'ArchivistError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.hint = options.hint;
    this.field = options.field ?? (options.param ? 'set' : undefined);
    this.param = options.param;
  }

  get exitCode(): number {
    return USAGE_CODES.has(this.code) ? 2 : 1;
  }

  toJSON(): {
    code: ErrorCode;
    message: string;
    retryable: boolean;
    hint?: string;
    field?: string;
    param?: string;
  } {
    return {
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      ...(this.hint ? { hint: this.hint } : {}),
      ...(this.field ? { field: this.field } : {}),
      ...(this.param ? { param: this.param } : {}),
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
