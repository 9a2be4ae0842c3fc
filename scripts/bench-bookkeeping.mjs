#!/usr/bin/env node
/**
 * Bookkeeping benchmark (PRODUCT section 7, issue 3): how many work items per second the run engine
 * moves on SQLite when the step itself does nothing. Each item is still claimed under a lease (BEGIN
 * IMMEDIATE), looked up for reuse, and committed as done by a separate worker process, exactly as a real
 * step's item is; only the step's work is missing.
 *
 *   npm run build && node scripts/bench-bookkeeping.mjs [options]
 *
 * Options:
 *   --files N      tiny files to generate and catalog (default 3000): one `testnoop@1` work item each
 *   --workers W    worker processes of the run (default 2)
 *   --rounds R     runs over the same collection, each a new run with new work items (default 3);
 *                  the table shows each round and the median
 *   --cli PATH     the built CLI to measure (default dist/cli/main.js of this repository)
 *   --keep         keep the generated archive and home afterwards
 *   --postgres     PostgreSQL as the truth store instead of SQLite: a new database on
 *                  $ARCHIVIST_BENCH_DATABASE_URL's server, else on a throwaway cluster started from the
 *                  system's binaries (scripts/pg-cluster.mjs, with fsync on, as a real server runs)
 *   --both         SQLite and PostgreSQL in one invocation (one archive, a home for each)
 *   --compare PATH another build's CLI (e.g. a copy of main's dist/cli/main.js) measured side by side:
 *                  every round runs it and --cli on the same home, one after the other, so that both
 *                  see the same machine load; its pipeline modules come from its own checkout
 *
 * The rate is the run's own record: items done divided by its `stats.wallSeconds` (from the moment the
 * coordinator takes the run, worker start-up included, to its completion). The target is printed next to
 * it; the script exits non-zero only when the measurement itself is wrong (a command failed, or a run did
 * not end `completed` with every item done).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { fileURLToPath, URL } from 'node:url';
import pg from 'pg';
import { startCluster } from './pg-cluster.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TARGET_ITEMS_PER_SEC = 2000;

function usage(message) {
  process.stderr.write(`bench-bookkeeping: ${message}\n`);
  process.stderr.write(
    'usage: node scripts/bench-bookkeeping.mjs [--files N] [--workers W] [--rounds R] [--cli PATH] [--compare PATH] [--postgres | --both] [--keep]\n',
  );
  process.exit(2);
}

function parseArgs(argv) {
  const options = {
    files: 3000,
    workers: 2,
    rounds: 3,
    cli: path.join(REPO, 'dist', 'cli', 'main.js'),
    keep: false,
    postgres: false,
    both: false,
    compare: null,
  };
  const integer = (flag, value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) usage(`${flag} needs a positive integer, got ${String(value)}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.includes('=')
      ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
      : [arg];
    const value = () => {
      if (inline !== undefined) return inline;
      if (i + 1 >= argv.length) usage(`${flag} needs a value`);
      return argv[++i];
    };
    switch (flag) {
      case '--files':
        options.files = integer(flag, value());
        break;
      case '--workers':
        options.workers = integer(flag, value());
        break;
      case '--rounds':
        options.rounds = integer(flag, value());
        break;
      case '--cli':
        options.cli = path.resolve(value());
        break;
      case '--keep':
        options.keep = true;
        break;
      case '--postgres':
        options.postgres = true;
        break;
      case '--both':
        options.both = true;
        break;
      case '--compare':
        options.compare = path.resolve(value());
        break;
      case '--help':
      case '-h':
        process.stdout.write(
          'node scripts/bench-bookkeeping.mjs [--files N] [--workers W] [--rounds R] [--cli PATH] [--compare PATH] [--postgres | --both] [--keep]\n',
        );
        process.exit(0);
        break;
      default:
        usage(`unknown option ${arg}`);
    }
  }
  return options;
}

/** Runs the CLI, returns {code, stdout, stderr, seconds}; throws on an unexpected exit code. */
function cli(options, home, args, expectCode = 0, cliPath = options.cli) {
  // A build's test pipelines import that build's registry: each CLI gets the module of its own checkout.
  const own = path.join(path.dirname(cliPath), '..', '..', 'test', 'support', 'test-pipelines.mjs');
  const pipelines = fs.existsSync(own) ? own : path.join(REPO, 'test', 'support', 'test-pipelines.mjs');
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [cliPath, '--home', home, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        ARCHIVIST_HOME: '',
        CI: 'true',
        ARCHIVIST_PIPELINE_MODULES: pipelines,
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = (performance.now() - started) / 1000;
      if (code !== expectCode) {
        reject(new Error(`archivist ${args.join(' ')} exited ${code}\n${stderr}${stdout}`));
      } else {
        resolve({ code, stdout, stderr, seconds });
      }
    });
  });
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const fmt = (n, digits = 0) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** A new empty PostgreSQL database (on the bench's cluster, started on first use), as `--database URL`. */
async function postgresDatabase(state) {
  let serverUrl = process.env.ARCHIVIST_BENCH_DATABASE_URL;
  if (!serverUrl) {
    state.cluster ??= await startCluster({ durable: true });
    serverUrl = state.cluster.url;
  }
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  const name = `archivist_bench_${process.pid}_${Date.now()}`;
  await admin.query(`create database "${name}"`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return ['--database', url.toString()];
}

/** One round: a new `testnoop@1` run over every file, with the run's own figures. */
async function measureRound(options, home, cliPath) {
  const result = await cli(
    options,
    home,
    [
      'run',
      'start',
      'testnoop@1',
      '--collection',
      'all',
      '--workers',
      String(options.workers),
      '--min-free',
      '1MB',
      '--json',
    ],
    0,
    cliPath,
  );
  const run = JSON.parse(result.stdout);
  if (run.status !== 'completed' || run.counts.done !== options.files || run.counts.total !== options.files) {
    throw new Error(`run ${run.id} ended ${run.status} with ${JSON.stringify(run.counts)}`);
  }
  const wall = run.stats.wallSeconds;
  return {
    id: run.id,
    items: run.counts.done,
    wallSeconds: wall,
    itemsPerSec: run.counts.done / wall,
    commandSeconds: result.seconds,
    workerCpuSeconds: run.stats.workerCpuMs / 1000,
  };
}

function table(options, dialect, cliPath, rounds) {
  const rate = median(rounds.map((r) => r.itemsPerSec));
  return [
    `## Bookkeeping: \`testnoop@1\`, ${fmt(options.files)} work items, ${options.workers} workers, ${dialect === 'postgres' ? 'PostgreSQL' : 'SQLite'}`,
    '',
    `CLI: ${path.relative(process.cwd(), cliPath) || cliPath}`,
    '',
    '| round | run | items | wall (run stats) | work items/s | whole command | worker CPU |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: |',
    ...rounds.map(
      (r, i) =>
        `| ${i + 1} | ${r.id} | ${fmt(r.items)} | ${r.wallSeconds.toFixed(2)} s | ${fmt(r.itemsPerSec)} | ${r.commandSeconds.toFixed(2)} s | ${r.workerCpuSeconds.toFixed(2)} s |`,
    ),
    '',
    '| measure | median | target | |',
    '| --- | ---: | ---: | --- |',
    `| work items/s (done / wallSeconds) | ${fmt(rate)} | >= ${fmt(TARGET_ITEMS_PER_SEC)} | ${rate >= TARGET_ITEMS_PER_SEC ? 'met' : 'NOT met'} |`,
    '',
  ];
}

const loadavg = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

async function main() {
  const options = parseArgs(process.argv.slice(2));
  for (const file of [options.cli, options.compare].filter(Boolean)) {
    if (!fs.existsSync(file)) usage(`${file} is missing: run \`npm run build\` first`);
  }
  const dialects = options.both ? ['sqlite', 'postgres'] : [options.postgres ? 'postgres' : 'sqlite'];
  // The build to compare runs first in each round: neither build always gets the warmer cache.
  const clis = options.compare ? [options.compare, options.cli] : [options.cli];

  const work = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'archivist-bench-bookkeeping-')));
  const archive = path.join(work, 'archive');
  const state = { cluster: undefined };
  try {
    // Tiny files with distinct content (one asset each), 100 per folder.
    for (let i = 0; i < options.files; i++) {
      const dir = path.join(archive, `d${String(Math.floor(i / 100)).padStart(4, '0')}`);
      if (i % 100 === 0) fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, `f${String(i).padStart(6, '0')}.txt`), `bookkeeping bench ${i}\n`);
    }
    const lines = [
      `Host: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, load at start ${loadavg()}`,
      '',
    ];
    for (const dialect of dialects) {
      const home = path.join(work, `home-${dialect}`);
      const database = dialect === 'postgres' ? await postgresDatabase(state) : [];
      await cli(options, home, ['init', ...database, '--json']);
      await cli(options, home, ['source', 'add', 'bench', archive, '--json']);
      const catalog = JSON.parse((await cli(options, home, ['catalog', '--json'])).stdout);
      if (catalog[0]?.new !== options.files) {
        throw new Error(`catalog found ${catalog[0]?.new} new files, expected ${options.files}`);
      }
      await cli(options, home, ['collection', 'create', 'all', '--json']);
      const rounds = new Map(clis.map((c) => [c, []]));
      for (let round = 1; round <= options.rounds; round++) {
        for (const cliPath of clis) {
          const r = await measureRound(options, home, cliPath);
          rounds.get(cliPath).push(r);
          process.stderr.write(
            `${dialect} round ${round} ${cliPath}: ${r.id} ${fmt(r.itemsPerSec)} items/s (load ${loadavg()})\n`,
          );
        }
      }
      for (const cliPath of clis) lines.push(...table(options, dialect, cliPath, rounds.get(cliPath)));
    }
    lines.push(`Load at the end: ${loadavg()}`, '');
    process.stdout.write(lines.join('\n'));
  } finally {
    state.cluster?.stop();
    if (options.keep) process.stderr.write(`kept ${work}\n`);
    else fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error) => {
  process.stderr.write(`bench-bookkeeping: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
