/**
 * The PostgreSQL side of the suite (issue 12, PRODUCT section 7): a throwaway cluster from the system's
 * binaries (fsync on, as a real server runs), the bookkeeping rate on both dialects with 2 and 8 workers,
 * and a PostgreSQL home for the `core` ÷ bare comparison. Without binaries (and without
 * $ARCHIVIST_BENCH_DATABASE_URL) the PostgreSQL numbers are skipped with the reason.
 */
import path from 'node:path';
import process from 'node:process';
import { URL } from 'node:url';
import pg from 'pg';
import { findPostgresBinaries, startCluster } from '../pg-cluster.mjs';
import { REPO, cli, log, median, run } from './lib.mjs';

/** A server for the bench: $ARCHIVIST_BENCH_DATABASE_URL, or a cluster of our own; `{ reason }` when none. */
export async function benchServer() {
  if (process.env.ARCHIVIST_BENCH_DATABASE_URL)
    return { url: process.env.ARCHIVIST_BENCH_DATABASE_URL, stop() {} };
  const found = findPostgresBinaries();
  if (!found.dir) return { reason: found.reason };
  const cluster = await startCluster({ durable: true });
  return { url: cluster.url, stop: () => cluster.stop() };
}

export async function newBenchDatabase(serverUrl) {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  const name = `archivist_bench_${process.pid}_${Date.now()}`;
  await admin.query(`create database "${name}"`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A PostgreSQL home over the same archive, cataloged, with the collection `all`. */
export async function postgresHome(home, archiveRoot, serverUrl) {
  await cli(home, ['init', '--database', await newBenchDatabase(serverUrl), '--json']);
  await cli(home, ['source', 'add', 'bench', archiveRoot, '--json']);
  await cli(home, ['catalog', '--json']);
  await cli(home, ['collection', 'create', 'all', '--json']);
}

/**
 * scripts/bench-bookkeeping.mjs on SQLite and on PostgreSQL, with 2 and 8 workers, one after the other
 * in this invocation (so the rows are comparable with each other, under the same load).
 */
export async function bookkeepingMatrix(server, { files = 2000, rounds = 2 } = {}) {
  const rows = [];
  for (const workers of [2, 8]) {
    for (const dialect of ['sqlite', 'postgres']) {
      if (dialect === 'postgres' && !server.url) {
        rows.push({ dialect, workers, itemsPerSec: null, skipped: server.reason });
        continue;
      }
      log(`bookkeeping on ${dialect}, ${workers} workers`);
      const result = await run(
        process.execPath,
        [
          path.join(REPO, 'scripts/bench-bookkeeping.mjs'),
          '--files',
          String(files),
          '--rounds',
          String(rounds),
          '--workers',
          String(workers),
          ...(dialect === 'postgres' ? ['--postgres'] : []),
        ],
        { env: { ...process.env, ...(server.url ? { ARCHIVIST_BENCH_DATABASE_URL: server.url } : {}) } },
      );
      // `<dialect> round <n> <cli>: <run> <rate> items/s` (bench-bookkeeping.mjs, its progress line).
      const rates = [...result.stderr.matchAll(/ round \d+ [^:]*: \S+ ([\d,.]+) items\/s/g)].map((m) =>
        Number(m[1].replace(/,/g, '')),
      );
      rows.push({ dialect, workers, itemsPerSec: median(rates), rounds: rates });
    }
  }
  return rows;
}
