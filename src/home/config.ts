import { z } from 'zod';
import { ArchivistError } from '../errors.js';

/**
 * The home's `config.json`. Validated once when a home is opened, then frozen: a typo fails the
 * command at start with the key named, instead of being silently ignored halfway through a run.
 */
export const ConfigSchema = z
  .object({
    catalog: z
      .object({
        /** Files hashed at once; more helps on a NAS, fewer on one spinning disk. */
        hashConcurrency: z.number().int().min(1).max(64).default(4),
        /** Extra names to skip while walking, in addition to the built-in junk list. */
        ignore: z.array(z.string().min(1)).default([]),
      })
      .strict()
      .prefault({}),
    runs: z
      .object({
        /** Attempts per item before it is `failed` (retryable reasons only: crashes, timeouts, I/O). */
        maxAttempts: z.number().int().min(1).max(20).default(3),
        /** A step taking longer than this is killed and its item fails with `timeout`. */
        itemTimeoutSec: z.number().min(1).max(86_400).default(300),
        /**
         * How long a worker keeps its items without heartbeating (3 heartbeats per lease): a frozen
         * worker is replaced, and its items taken over, once this lapses. Default 15.
         */
        leaseSec: z.number().min(1).max(3_600).optional(),
        /** Free space the store must keep, per policy: bytes, `500MB`, `2GB` or `5%`. */
        minFree: z
          .object({ sandbox: z.string().min(1).default('1GB'), production: z.string().min(1).default('2GB') })
          .strict()
          .prefault({}),
        /** Sandbox artifacts are deleted by `gc` this long after they were made. */
        sandboxRetentionDays: z.number().min(0).max(3650).default(7),
        /** Worker processes per run when --workers is not given (default: one per core). */
        workers: z.number().int().min(1).max(256).optional(),
      })
      .strict()
      .prefault({}),
    server: z
      .object({
        /**
         * Required on every request when set, and required to serve beyond loopback: a private archive is
         * never open to a network without it. At least 32 characters (`openssl rand -hex 32`).
         */
        accessToken: z.string().min(32, 'at least 32 characters (try `openssl rand -hex 32`)').optional(),
        /** Names besides localhost the UI is reached by (`nas.local`); other Host headers are refused. */
        allowedHosts: z.array(z.string().regex(/^[A-Za-z0-9.-]+$/, 'a host name')).default([]),
      })
      .strict()
      .prefault({}),
    database: z
      .object({
        /** A PostgreSQL URL (`postgres://user@host/db`): the shared truth store; none means archivist.db. */
        url: z
          .string()
          .regex(/^postgres(ql)?:\/\//i, 'must be a postgres:// URL')
          .optional(),
        /** Connections per process to PostgreSQL. */
        poolSize: z.number().int().min(1).max(64).optional(),
      })
      .strict()
      .prefault({}),
    tools: z
      .object({
        /** Explicit tool paths win over what is found on PATH or shipped with npm. */
        ffmpeg: z.string().min(1).optional(),
        ffprobe: z.string().min(1).optional(),
        /** The system's vipsthumbnail for HEIC, 10/12-bit AVIF and JPEG XL; `false` turns the native path off. */
        vipsthumbnail: z.union([z.string().min(1), z.literal(false)]).optional(),
        /** Pictures with more pixels (width × height) fail as `too-large` before any decoder runs. */
        maxPixels: z.number().int().min(1_000_000).max(10_000_000_000).optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type Config = z.infer<typeof ConfigSchema>;

export const DEFAULT_CONFIG_TEXT = `${JSON.stringify(
  {
    catalog: { hashConcurrency: 4, ignore: [] },
    runs: {
      maxAttempts: 3,
      itemTimeoutSec: 300,
      minFree: { sandbox: '1GB', production: '2GB' },
      sandboxRetentionDays: 7,
    },
    tools: {},
  },
  null,
  2,
)}\n`;

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** Parses the text of a config file; every problem is reported with its key path. */
export function parseConfig(text: string, fileName: string): Readonly<Config> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ArchivistError('config-invalid', `${fileName} is not valid JSON: ${(error as Error).message}`, {
      cause: error,
      hint: `Fix the file, or delete it to get the defaults back.`,
    });
  }
  const result = ConfigSchema.safeParse(json);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const key = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
      return `${key}: ${issue.message}`;
    });
    throw new ArchivistError('config-invalid', `${fileName} is invalid:\n  ${problems.join('\n  ')}`, {
      hint: 'Fix the keys named above; unknown keys are refused so that typos do not go unnoticed.',
    });
  }
  return deepFreeze(result.data);
}
