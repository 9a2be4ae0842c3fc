import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from './node-postgres.js';
import { ArchivistError } from '../../errors.js';
import type { OpenDatabase } from '../database.js';
import type { Database } from '../schema.js';
import { listenForWakeUps } from './wake-up-listener.js';
import { redactUrl } from './postgres-url.js';

/** OIDs of the types whose JavaScript form must match what SQLite gives back. */
const INT8 = 20;
const NUMERIC = 1700;
const TIMESTAMPTZ = 1184;

/**
 * The same values as SQLite returns: milliseconds, sizes and counts (bigint, and numeric from sum()) as
 * numbers (they fit in a double: 2^53 ms is 285,000 years, 2^53 bytes 9 PB), times as ISO 8601 strings
 * in UTC with milliseconds, as the rest of the code writes them.
 */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8 || oid === NUMERIC) return (value: string) => Number(value);
    if (oid === TIMESTAMPTZ) return (value: string) => new Date(value).toISOString();
    return pg.types.getTypeParser(oid, format) as (value: string) => unknown;
  },
};

export function openPostgres(url: string, options: { poolSize?: number } = {}): OpenDatabase {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 4,
    types,
    connectionTimeoutMillis: 10_000,
    // A worker's connection sits idle between claims; the server or a NAT may drop it meanwhile.
    keepAlive: true,
    application_name: 'archivist',
    // A host cut off in the middle of a transaction leaves the server waiting for its next statement,
    // holding the rows it locked (a claim's, a completion's): other hosts skip them and a cancel would
    // wait on them. Archivist's transactions never wait on the client, so one that is idle this long
    // belongs to a client that is gone: the server ends it, well before that host's leases expire.
    options: '-c idle_in_transaction_session_timeout=5000',
  });
  // An idle client whose connection dies (server restarted, link cut) is reported here; without a
  // listener node-postgres throws it as an uncaught error and takes the process down. The next query
  // opens a new connection.
  pool.on('error', () => undefined);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    kind: 'postgres',
    location: redactUrl(url),
    // The server's pages have their own checksums; what only Archivist can check is its own invariant.
    integrityCheck: async () => {
      const { rows } = await sql<{ n: number }>`select count(*) as n from artifacts a
        where not exists (select 1 from lineage l where l.artifact_id = a.id)`.execute(db);
      return Number(rows[0]!.n) === 0 ? 'ok' : `${rows[0]!.n} artifacts without lineage`;
    },
    claimIdentity: () => Promise.resolve(),
    // Kysely's Migrator takes PostgreSQL's advisory lock itself.
    withMigrationLock: (body) => body(db),
    serverFacts: async () => {
      const started = process.hrtime.bigint();
      await sql`select 1`.execute(db);
      const latencyMs = Number(process.hrtime.bigint() - started) / 1e6;
      const { rows } = await sql<{ v: string }>`select current_setting('server_version') as v`.execute(db);
      return {
        kind: 'postgres',
        version: rows[0]!.v,
        latencyMs: Math.round(latencyMs * 100) / 100,
        pool: {
          max: options.poolSize ?? 4,
          total: pool.totalCount,
          idle: pool.idleCount,
          waiting: pool.waitingCount,
        },
      };
    },
    listenForWakeUps: () => listenForWakeUps(url),
    close: () => db.destroy(),
  };
}

/** A first query, so that a wrong URL or a server that is down fails with a message, not mid-command. */
export async function checkReachable(open: OpenDatabase): Promise<void> {
  try {
    await sql`select 1`.execute(open.db);
  } catch (error) {
    await open.close().catch(() => undefined);
    throw new ArchivistError(
      'database',
      `cannot reach the PostgreSQL database ${open.location}: ${(error as Error).message}`,
      {
        cause: error,
        hint: 'Check the URL (database.url in config.json or $ARCHIVIST_DATABASE_URL) and that the server runs.',
      },
    );
  }
}
