#!/usr/bin/env node
/**
 * Catalog benchmark (PRODUCT section 7): first pass and unchanged re-scan of a generated tree of small
 * files, side by side with `sha256sum` over the same files.
 *
 *   npm run build && npm run bench:catalog -- [options]
 *
 * Options:
 *   --files N              files to generate (default 20000)
 *   --dirs M               folders they are spread over (default 200)
 *   --size-kb MIN-MAX      file sizes in KB (default 1-8; e.g. 2048-8192 for photo-sized files)
 *   --dir PATH             work directory, outside the repository (default: a new one under os.tmpdir());
 *                          a tree left there by an earlier `--keep` run with the same --files, --dirs and
 *                          --size-kb is reused (and then left in place)
 *   --keep                 keep the generated tree and the homes (and CPU profiles) afterwards
 *   --rounds R             independent rounds, each with a fresh home (default 3); the table shows medians
 *   --rescans K            unchanged re-scans per round (default 2)
 *   --hash-concurrency C   write catalog.hashConcurrency into each home's config (default: the CLI's default)
 *   --cli PATH             the built CLI to measure (default dist/cli/main.js of this repository)
 *   --profile              profile round 1 (`node --cpu-prof`) and print the top self-time functions
 *   --out FILE             where to write the JSON result (default bench/results/catalog-<date>.json)
 *
 * Numbers are informative: the targets are printed next to them, and the script never fails on them. It
 * exits non-zero only when the measurement itself is wrong (a command failed, or the catalog did not
 * report every generated file as new, then every file as unchanged).
 *
 * The page cache is warm for everyone: the tree was just written, and `sha256sum` runs both before and after
 * each first pass so that neither side is favoured by what the other just read. Each rate is given from the
 * wall time around the child process (Node start and opening the home included) and from the summary's
 * `durationMs`; the CPU time (user + system) of each child is given too, as it moves much less than wall time
 * when other work shares the machine.
 */
import { Buffer } from 'node:buffer';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { childrenCpuMs, isWithin, makeRandom, median, realpathOfNearest } from './bench/lib.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TREE_FORMAT = 2; // bump when the generator changes, so an old kept tree is not reused by mistake

const TARGETS = {
  firstPassFilesPerSec: 2000,
  firstPassVsSha256sum: 0.8,
  rescanFilesPerSec: 10000,
};

// ---------------------------------------------------------------------------------------------- options

function parseArgs(argv) {
  const options = {
    files: 20000,
    dirs: 200,
    minBytes: 1024,
    maxBytes: 8 * 1024,
    dir: undefined,
    keep: false,
    rounds: 3,
    rescans: 2,
    hashConcurrency: undefined,
    cli: path.join(REPO, 'dist/cli/main.js'),
    profile: false,
    out: undefined,
  };
  const integer = (name, value, min) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) usage(`${name} needs an integer >= ${min}, got ${String(value)}`);
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
        options.files = integer(flag, value(), 1);
        break;
      case '--dirs':
        options.dirs = integer(flag, value(), 1);
        break;
      case '--size-kb': {
        const match = /^(\d+)(?:-(\d+))?$/.exec(value());
        if (!match) usage('--size-kb needs MIN-MAX in KB, e.g. 1-8');
        options.minBytes = Number(match[1]) * 1024;
        options.maxBytes = Number(match[2] ?? match[1]) * 1024;
        if (options.minBytes < 1024 || options.maxBytes < options.minBytes)
          usage('--size-kb needs 1 <= MIN <= MAX');
        break;
      }
      case '--dir':
        options.dir = path.resolve(value());
        break;
      case '--keep':
        options.keep = true;
        break;
      case '--rounds':
        options.rounds = integer(flag, value(), 1);
        break;
      case '--rescans':
        options.rescans = integer(flag, value(), 1);
        break;
      case '--hash-concurrency':
        options.hashConcurrency = integer(flag, value(), 1);
        break;
      case '--cli':
        options.cli = path.resolve(value());
        break;
      case '--profile':
        options.profile = true;
        break;
      case '--out':
        options.out = path.resolve(value());
        break;
      case '-h':
      case '--help':
        process.stdout.write(helpText());
        process.exit(0);
        break;
      default:
        usage(`unknown option ${arg}`);
    }
  }
  return options;
}

function helpText() {
  const source = fs.readFileSync(fileURLToPath(import.meta.url), 'utf8');
  const block = source.slice(source.indexOf('/**') + 3, source.indexOf('*/'));
  return `${block
    .split('\n')
    .map((line) => line.replace(/^ \* ?/, ''))
    .join('\n')
    .trim()}\n`;
}

function usage(message) {
  process.stderr.write(`bench-catalog: ${message}\nRun with --help for the options.\n`);
  process.exit(2);
}

// ------------------------------------------------------------------------------------------- generator

const JPEG_HEAD = Buffer.from([
  0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01,
  0x00, 0x00,
]);
const EXIF_JPEG_HEAD = Buffer.concat([
  Buffer.from([0xff, 0xd8, 0xff, 0xe1, 0x00, 0x22]),
  Buffer.from('Exif\0\0II*\0\x08\0\0\0', 'latin1'),
]);
const PNG_HEAD = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  Buffer.from([0x00, 0x00, 0x00, 0x0d]),
  Buffer.from('IHDR', 'latin1'),
  Buffer.from([
    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x08, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  ]),
]);
const MP4_HEAD = Buffer.concat([
  Buffer.from([0x00, 0x00, 0x00, 0x18]),
  Buffer.from('ftypisom\0\0\x02\0isomiso2', 'latin1'),
]);

/**
 * What each generated file is: a share of the files, a name pattern, and a content header (the rest is
 * pseudo-random bytes). Media sniffing therefore sees real magic bytes, garbage, and text.
 */
const KINDS = [
  { share: 35, name: (n) => `IMG_${n}.JPG`, head: EXIF_JPEG_HEAD },
  { share: 15, name: (n) => `img_${n}.jpg`, head: JPEG_HEAD },
  { share: 15, name: (n) => `Screenshot ${n}.png`, head: PNG_HEAD },
  { share: 10, name: (n) => `VID_${n}.mp4`, head: MP4_HEAD },
  { share: 5, name: (n) => `IMG_${n}.xmp`, text: true },
  { share: 5, name: (n) => `été à Zürich ${n}.jpg`, head: JPEG_HEAD },
  { share: 5, name: (n) => `DSC_${n}.NEF`, head: Buffer.from('II*\0', 'latin1') },
  { share: 5, name: (n) => `broken_${n}.jpg` }, // no magic: typed by its extension
  { share: 5, name: (n) => `notes_${n}.dat` }, // no magic, unknown extension: "other"
];
const KIND_TABLE = KINDS.flatMap((kind) => Array.from({ length: kind.share }, () => kind));

/** Bytes of fresh pseudo-random data per file; beyond that, a file continues with bytes from a shared pool. */
const FRESH_BYTES = 64 * 1024;
const POOL_BYTES = 1024 * 1024;

/**
 * Generates the tree deterministically: same options, same names, same bytes. Every file starts with up to
 * 64 KB of its own pseudo-random bytes (so no two files share content), then, for large files, continues
 * with a shared pseudo-random pool read from a per-file offset: cheap to write, still costly to hash.
 */
function generateTree(root, options) {
  const { files, dirs, minBytes, maxBytes } = options;
  fs.mkdirSync(root, { recursive: true });
  const random = makeRandom(0x5eed ^ files ^ (dirs << 20) ^ (maxBytes << 3)).next;
  const perDir = Math.ceil(files / dirs);
  const dirNames = Array.from({ length: dirs }, (_, d) => {
    const year = 2005 + (d % 20);
    return `${year}/${String(d).padStart(3, '0')} event ${year}-${String((d % 12) + 1).padStart(2, '0')}`;
  });
  for (const name of dirNames) fs.mkdirSync(path.join(root, name), { recursive: true });

  const fill = (target) => {
    const words = new Uint32Array(target.buffer, target.byteOffset, Math.floor(target.length / 4));
    for (let k = 0; k < words.length; k++) words[k] = random();
  };
  const pool = Buffer.alloc(POOL_BYTES);
  if (maxBytes > FRESH_BYTES) fill(pool);
  const buffer = Buffer.alloc(maxBytes + 4);
  let bytes = 0;
  for (let i = 0; i < files; i++) {
    const kind = KIND_TABLE[random() % KIND_TABLE.length];
    const size = minBytes + (random() % (maxBytes - minBytes + 1));
    let content;
    if (kind.text) {
      const id = random().toString(16);
      const line = `<rdf:Description xmp:Rating="${random() % 6}" xmp:Label="${id}"/>\n`;
      content = Buffer.from(
        `<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>\n<x:xmpmeta xmlns:x="adobe:ns:meta/">\n${line.repeat(
          Math.ceil(size / line.length),
        )}`.slice(0, size),
      );
    } else {
      const fresh = Math.min(size, FRESH_BYTES);
      fill(buffer.subarray(0, fresh + 4));
      for (let at = fresh, from = random() % POOL_BYTES; at < size; from = 0) {
        at += pool.copy(buffer, at, from, Math.min(POOL_BYTES, from + size - at));
      }
      if (kind.head) kind.head.copy(buffer, 0);
      content = buffer.subarray(0, size);
    }
    const dir = dirNames[Math.min(Math.floor(i / perDir), dirs - 1)];
    fs.writeFileSync(path.join(root, dir, kind.name(String(i).padStart(6, '0'))), content);
    bytes += content.length;
  }
  return { bytes };
}

/** Reuses a kept tree only if it is exactly what this generator would write. */
function prepareTree(workDir, options) {
  const tree = path.join(workDir, 'tree');
  const marker = path.join(workDir, 'tree.json');
  const wanted = {
    format: TREE_FORMAT,
    files: options.files,
    dirs: options.dirs,
    minBytes: options.minBytes,
    maxBytes: options.maxBytes,
  };
  if (fs.existsSync(marker) && fs.existsSync(tree)) {
    const found = JSON.parse(fs.readFileSync(marker, 'utf8'));
    if (Object.entries(wanted).every(([key, value]) => found[key] === value)) {
      log(`reusing the tree at ${tree}`);
      return { tree, ...found, generated: false, generateMs: null };
    }
  }
  if (fs.existsSync(tree)) {
    usage(
      `${tree} exists and is not a tree of this benchmark with these options; remove it or pick another --dir`,
    );
  }
  log(`generating ${options.files} files in ${options.dirs} folders under ${tree}`);
  const started = performance.now();
  const facts = generateTree(tree, options);
  execFileSync('sync'); // so write-back does not land in the middle of a measurement
  const generateMs = performance.now() - started;
  fs.writeFileSync(marker, `${JSON.stringify({ ...wanted, bytes: facts.bytes }, null, 2)}\n`);
  return { tree, ...wanted, bytes: facts.bytes, generated: true, generateMs };
}

// -------------------------------------------------------------------------------------------- running

function log(message) {
  process.stderr.write(`bench-catalog: ${message}\n`);
}

/** Runs a command, timing it from spawn to exit. Output is captured; a non-zero exit is an error. */
function run(command, args, { env } = {}) {
  return new Promise((resolve, reject) => {
    const cpuBefore = childrenCpuMs();
    const started = performance.now();
    const child = spawn(command, args, { env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout = [];
    const stderr = [];
    child.stdout.on('data', (chunk) => stdout.push(chunk));
    child.stderr.on('data', (chunk) => stderr.push(chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const wallMs = performance.now() - started;
      const cpuAfter = childrenCpuMs();
      const cpuMs = cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore;
      const out = Buffer.concat(stdout).toString('utf8');
      const err = Buffer.concat(stderr).toString('utf8');
      if (code !== 0) {
        reject(new Error(`${command} ${args.join(' ')} exited with ${code ?? signal}\n${err || out}`));
      } else {
        resolve({ wallMs, cpuMs, stdout: out, stderr: err });
      }
    });
  });
}

function cliEnv() {
  // No TTY and no colour: the progress bar stays off, as it would in a script.
  const env = { ...process.env, NO_COLOR: '1' };
  delete env.ARCHIVIST_HOME;
  return env;
}

async function cli(options, home, args, profileName) {
  const nodeArgs = [];
  if (profileName) {
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${options.profileDir}`, `--cpu-prof-name=${profileName}`);
  }
  return run(process.execPath, [...nodeArgs, options.cli, '--home', home, ...args], { env: cliEnv() });
}

async function catalogOnce(options, home, profileName) {
  const result = await cli(options, home, ['catalog', '--json'], profileName);
  const parsed = JSON.parse(result.stdout);
  const summary = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!summary || typeof summary.durationMs !== 'number') {
    throw new Error(`catalog --json printed no summary:\n${result.stdout.slice(0, 500)}`);
  }
  return { wallMs: result.wallMs, cpuMs: result.cpuMs, summary };
}

async function sha256sum(tree) {
  const result = await run('sh', [
    '-c',
    'find "$1" -type f -print0 | xargs -0 sha256sum > /dev/null',
    'sh',
    tree,
  ]);
  return { wallMs: result.wallMs, cpuMs: result.cpuMs };
}

/** A summary as stored in the result: the first few errors are enough to see what went wrong. */
function trimmed(summary) {
  return { ...summary, errors: summary.errors.slice(0, 5), errorCount: summary.errors.length };
}

function check(condition, problems, message) {
  if (!condition) problems.push(message);
}

function checkFirstPass(summary, files, problems, label) {
  check(summary.scanned === files, problems, `${label}: scanned ${summary.scanned}, expected ${files}`);
  check(summary.new === files, problems, `${label}: new ${summary.new}, expected ${files}`);
  check(summary.hashed === files, problems, `${label}: hashed ${summary.hashed}, expected ${files}`);
  check(
    summary.errors.length === 0,
    problems,
    `${label}: ${summary.errors.length} errors, e.g. ${JSON.stringify(summary.errors[0])}`,
  );
}

function checkRescan(summary, files, problems, label) {
  check(summary.scanned === files, problems, `${label}: scanned ${summary.scanned}, expected ${files}`);
  check(summary.unchanged === files, problems, `${label}: unchanged ${summary.unchanged}, expected ${files}`);
  check(summary.hashed === 0, problems, `${label}: hashed ${summary.hashed}, expected 0`);
  check(summary.errors.length === 0, problems, `${label}: ${summary.errors.length} errors`);
}

async function oneRound(options, tree, round) {
  const home = path.join(options.workDir, `home-${round}`);
  fs.rmSync(home, { recursive: true, force: true });
  options.homes.push(home);
  const init = await cli(options, home, ['init', '--json']);
  const configFile = JSON.parse(init.stdout).config;
  const config = JSON.parse(fs.readFileSync(configFile, 'utf8'));
  if (options.hashConcurrency !== undefined) {
    config.catalog = { ...config.catalog, hashConcurrency: options.hashConcurrency };
    fs.writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
  }
  await cli(options, home, ['source', 'add', 'bench', tree.tree, '--json']);
  // A command that opens the home and does nothing: what every catalog wall time pays before the walk.
  const startup = await cli(options, home, ['source', 'list', '--json']);

  const shaBefore = await sha256sum(tree.tree);
  // Profiling slows what it measures: only the first round is profiled.
  const profile = options.profile && round === 1 ? `first-pass-${round}.cpuprofile` : undefined;
  const first = await catalogOnce(options, home, profile);
  const shaAfter = await sha256sum(tree.tree);
  const rescans = [];
  for (let k = 1; k <= options.rescans; k++) {
    const name = options.profile && round === 1 && k === 1 ? `rescan-${round}.cpuprofile` : undefined;
    rescans.push(await catalogOnce(options, home, name));
  }
  const homeBytes = directoryBytes(home);
  if (!options.keep) fs.rmSync(home, { recursive: true, force: true });
  return {
    round,
    home,
    hashConcurrency: config.catalog?.hashConcurrency ?? null,
    startupWallMs: startup.wallMs,
    first,
    shaBefore,
    shaAfter,
    rescans,
    homeBytes,
  };
}

function directoryBytes(dir) {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += fs.statSync(path.join(entry.parentPath ?? entry.path, entry.name)).size;
  }
  return total;
}

// ------------------------------------------------------------------------------------------- reporting

const perSec = (count, ms) => (count * 1000) / ms;
const mbPerSec = (bytes, ms) => bytes / 1e6 / (ms / 1000);

function fmt(value, digits = 0) {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function spread(values, digits = 0) {
  if (values.length < 2) return fmt(values[0], digits);
  return `${fmt(median(values), digits)} (${fmt(Math.min(...values), digits)}–${fmt(Math.max(...values), digits)})`;
}

function verdict(value, target) {
  return value >= target ? 'yes' : 'no';
}

function machineFacts(workDir) {
  const cpus = os.cpus();
  const tryRun = (command, args) => {
    try {
      return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return null;
    }
  };
  return {
    date: new Date().toISOString(),
    hostname: os.hostname(),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cores: cpus.length,
    availableParallelism: os.availableParallelism?.() ?? cpus.length,
    cpuModel: cpus[0]?.model ?? null,
    memoryBytes: os.totalmem(),
    freeMemoryBytes: os.freemem(),
    loadAverage: os.loadavg(),
    node: process.version,
    sha256sum: tryRun('sha256sum', ['--version'])?.split('\n')[0] ?? null,
    workDirFilesystem: tryRun('stat', ['-f', '-c', '%T', workDir]),
    gitCommit: tryRun('git', ['-C', REPO, 'rev-parse', 'HEAD']),
    // --no-optional-locks: reading the status must not take the index lock others may need.
    gitSrcDirty:
      (tryRun('git', ['-C', REPO, '--no-optional-locks', 'status', '--porcelain', '--', 'src']) ?? '') !== '',
  };
}

/** Per-round series (every value a number per round, or per re-scan), from which the table takes medians. */
function series(rounds, tree) {
  const files = tree.files;
  const cpu = (values) => (values.every((v) => v !== null) ? values : null);
  return {
    firstFilesPerSecWall: rounds.map((r) => perSec(files, r.first.wallMs)),
    firstFilesPerSecInside: rounds.map((r) => perSec(files, r.first.summary.durationMs)),
    firstMbPerSecWall: rounds.map((r) => mbPerSec(r.first.summary.bytesHashed, r.first.wallMs)),
    firstMbPerSecInside: rounds.map((r) => mbPerSec(r.first.summary.bytesHashed, r.first.summary.durationMs)),
    firstCpuMs: cpu(rounds.map((r) => r.first.cpuMs)),
    shaBeforeFilesPerSec: rounds.map((r) => perSec(files, r.shaBefore.wallMs)),
    shaAfterFilesPerSec: rounds.map((r) => perSec(files, r.shaAfter.wallMs)),
    shaBeforeMbPerSec: rounds.map((r) => mbPerSec(tree.bytes, r.shaBefore.wallMs)),
    shaAfterMbPerSec: rounds.map((r) => mbPerSec(tree.bytes, r.shaAfter.wallMs)),
    shaCpuMs: cpu(rounds.flatMap((r) => [r.shaBefore.cpuMs, r.shaAfter.cpuMs])),
    // A ratio of rates is sha256sum time / catalog time, taken per round so both come from the same moment.
    ratioBeforeWall: rounds.map((r) => r.shaBefore.wallMs / r.first.wallMs),
    ratioAfterWall: rounds.map((r) => r.shaAfter.wallMs / r.first.wallMs),
    ratioBeforeInside: rounds.map((r) => r.shaBefore.wallMs / r.first.summary.durationMs),
    ratioAfterInside: rounds.map((r) => r.shaAfter.wallMs / r.first.summary.durationMs),
    ratioCpu: cpu(
      rounds.map((r) =>
        r.first.cpuMs && r.shaBefore.cpuMs !== null && r.shaAfter.cpuMs !== null
          ? (r.shaBefore.cpuMs + r.shaAfter.cpuMs) / 2 / r.first.cpuMs
          : null,
      ),
    ),
    rescanFilesPerSecWall: rounds.flatMap((r) => r.rescans.map((x) => perSec(files, x.wallMs))),
    rescanFilesPerSecInside: rounds.flatMap((r) => r.rescans.map((x) => perSec(files, x.summary.durationMs))),
    rescanCpuMs: cpu(rounds.flatMap((r) => r.rescans.map((x) => x.cpuMs))),
    cliStartupWallMs: rounds.map((r) => r.startupWallMs),
  };
}

function medians(all) {
  return Object.fromEntries(
    Object.entries(all).map(([key, values]) => [key, values ? median(values) : null]),
  );
}

function markdown(result, all) {
  const t = TARGETS;
  const m = result.machine;
  const med = result.results;
  const cpuCell = (values) =>
    values
      ? `${spread(
          values.map((v) => v / 1000),
          2,
        )} s`
      : '';
  const worstRatio = Math.min(med.ratioBeforeWall, med.ratioAfterWall);
  const rows = [
    [
      'Measure',
      'Wall time (child process)',
      'Inside (`durationMs`)',
      'CPU (user+sys)',
      'Target',
      'Met (wall)',
    ],
    ['---', '---:', '---:', '---:', '---:', ':---:'],
    [
      'First pass, files/s',
      spread(all.firstFilesPerSecWall),
      spread(all.firstFilesPerSecInside),
      cpuCell(all.firstCpuMs),
      `≥ ${fmt(t.firstPassFilesPerSec)}`,
      verdict(med.firstFilesPerSecWall, t.firstPassFilesPerSec),
    ],
    ['First pass, MB/s', spread(all.firstMbPerSecWall, 1), spread(all.firstMbPerSecInside, 1), '', '', ''],
    [
      '`sha256sum` before the first pass, files/s (MB/s)',
      `${spread(all.shaBeforeFilesPerSec)} (${fmt(med.shaBeforeMbPerSec, 1)})`,
      '',
      cpuCell(all.shaCpuMs),
      '',
      '',
    ],
    [
      '`sha256sum` after the first pass, files/s (MB/s)',
      `${spread(all.shaAfterFilesPerSec)} (${fmt(med.shaAfterMbPerSec, 1)})`,
      '',
      '',
      '',
      '',
    ],
    [
      'First pass ÷ `sha256sum` before',
      `${spread(all.ratioBeforeWall, 2)}×`,
      `${spread(all.ratioBeforeInside, 2)}×`,
      all.ratioCpu ? `${spread(all.ratioCpu, 2)}×` : '',
      `≥ ${t.firstPassVsSha256sum}×`,
      verdict(med.ratioBeforeWall, t.firstPassVsSha256sum),
    ],
    [
      'First pass ÷ `sha256sum` after',
      `${spread(all.ratioAfterWall, 2)}×`,
      `${spread(all.ratioAfterInside, 2)}×`,
      '',
      `≥ ${t.firstPassVsSha256sum}×`,
      verdict(med.ratioAfterWall, t.firstPassVsSha256sum),
    ],
    [
      'Unchanged re-scan, files/s',
      spread(all.rescanFilesPerSecWall),
      spread(all.rescanFilesPerSecInside),
      cpuCell(all.rescanCpuMs),
      `≥ ${fmt(t.rescanFilesPerSec)}`,
      verdict(med.rescanFilesPerSecWall, t.rescanFilesPerSec),
    ],
    ['CLI start + open home (`source list`), ms', spread(all.cliStartupWallMs), '', '', '', ''],
  ];
  const busy =
    Math.max(m.loadAverage[0], m.loadAverageAfter?.[0] ?? 0) > m.cores / 2
      ? `\n**The machine was busy** (1-min load ${fmt(m.loadAverage[0], 1)} before, ${fmt(m.loadAverageAfter?.[0] ?? NaN, 1)} after, on ${m.cores} cores): wall-time numbers are noisy; the CPU column is steadier.\n`
      : '';
  return [
    `## Catalog benchmark, ${m.date.slice(0, 10)}`,
    '',
    `${fmt(result.tree.files)} files (${fmt(result.tree.bytes / 1e6, 1)} MB) in ${result.tree.dirs} folders ` +
      `(${result.options.sizeKb[0]}–${result.options.sizeKb[1]} KB each) on ` +
      `${m.workDirFilesystem ?? '?'}, page cache warm; ${result.options.rounds} round(s) of first pass + ` +
      `${result.options.rescans} re-scan(s), fresh home each round; hashConcurrency ${result.hashConcurrency ?? '?'}. ` +
      'Cells: median (min–max).',
    `Machine: ${m.cores} cores (${m.cpuModel ?? '?'}), ${fmt(m.memoryBytes / 2 ** 30, 1)} GiB, Node ${m.node}, ${m.platform}.`,
    busy,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
    '',
    `Targets: PRODUCT section 7, informative here. Worst wall-time ratio to sha256sum: ${fmt(worstRatio, 2)}×. ` +
      'Wall time includes starting Node, opening the home and printing the summary; `durationMs` is the catalog ' +
      'alone; the CPU ratio is sha256sum CPU ÷ catalog CPU (the catalog may use more than one core).',
  ].join('\n');
}

// ----------------------------------------------------------------------------------- CPU profile digest

/** Top functions by self time in a .cpuprofile (V8 format), with their script and line. */
function topSelfTime(file, limit = 15) {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  const intervals = profile.timeDeltas ?? [];
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]);
    const dt = intervals[i] ?? 0;
    total += dt;
    const frame = node.callFrame;
    const where = frame.url
      ? `${frame.url.replace(/^file:\/\//, '').replace(`${REPO}/`, '')}:${frame.lineNumber + 1}`
      : '';
    const key = `${frame.functionName || '(anonymous)'} ${where}`.trim();
    self.set(key, (self.get(key) ?? 0) + dt);
  }
  return {
    totalMs: total / 1000,
    top: [...self.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([name, us]) => ({ name, selfMs: us / 1000, share: us / total })),
  };
}

function printProfiles(profileDir) {
  const digests = {};
  for (const name of fs
    .readdirSync(profileDir)
    .filter((n) => n.endsWith('.cpuprofile'))
    .sort()) {
    const digest = topSelfTime(path.join(profileDir, name));
    digests[name] = digest;
    process.stdout.write(`\n### ${name}: top self time (of ${fmt(digest.totalMs)} ms sampled)\n\n`);
    process.stdout.write('| Self ms | Share | Function |\n| ---: | ---: | --- |\n');
    for (const row of digest.top) {
      process.stdout.write(`| ${fmt(row.selfMs)} | ${fmt(row.share * 100, 1)} % | \`${row.name}\` |\n`);
    }
  }
  return digests;
}

// ------------------------------------------------------------------------------------------------ main

async function main() {
  const options = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(options.cli)) usage(`${options.cli} does not exist: run \`npm run build\` first`);

  if (options.dir !== undefined && isWithin(realpathOfNearest(options.dir), fs.realpathSync(REPO))) {
    usage(`${options.dir} is inside the repository: the generated tree must live outside it`);
  }
  const createdWorkDir = options.dir === undefined || !fs.existsSync(options.dir);
  options.workDir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'archivist-bench-'));
  fs.mkdirSync(options.workDir, { recursive: true });
  options.profileDir = path.join(options.workDir, 'profiles');
  options.homes = [];
  if (options.profile) {
    fs.rmSync(options.profileDir, { recursive: true, force: true });
    fs.mkdirSync(options.profileDir);
  }

  const machine = machineFacts(options.workDir);
  let tree;
  const rounds = [];
  try {
    tree = prepareTree(options.workDir, options);
    for (let round = 1; round <= options.rounds; round++) {
      log(`round ${round}/${options.rounds}`);
      rounds.push(await oneRound(options, tree, round));
    }

    const problems = [];
    for (const r of rounds) {
      checkFirstPass(r.first.summary, tree.files, problems, `round ${r.round} first pass`);
      r.rescans.forEach((s, k) =>
        checkRescan(s.summary, tree.files, problems, `round ${r.round} re-scan ${k + 1}`),
      );
    }

    machine.loadAverageAfter = os.loadavg();
    const all = series(rounds, tree);
    const results = medians(all);
    const result = {
      benchmark: 'catalog',
      command: `npm run bench:catalog -- ${process.argv.slice(2).join(' ')}`.trim(),
      machine,
      options: {
        files: options.files,
        dirs: options.dirs,
        sizeKb: [options.minBytes / 1024, options.maxBytes / 1024],
        rounds: options.rounds,
        rescans: options.rescans,
        cli: options.cli,
      },
      hashConcurrency: rounds[0]?.hashConcurrency ?? null,
      tree: {
        files: tree.files,
        dirs: tree.dirs,
        bytes: tree.bytes,
        generated: tree.generated,
        generateMs: tree.generateMs,
      },
      targets: TARGETS,
      met: {
        firstPassFilesPerSec: results.firstFilesPerSecWall >= TARGETS.firstPassFilesPerSec,
        firstPassVsSha256sum:
          Math.min(results.ratioBeforeWall, results.ratioAfterWall) >= TARGETS.firstPassVsSha256sum,
        rescanFilesPerSec: results.rescanFilesPerSecWall >= TARGETS.rescanFilesPerSec,
      },
      results,
      series: all,
      rounds: rounds.map((r) => ({
        round: r.round,
        cliStartupWallMs: r.startupWallMs,
        homeBytes: r.homeBytes,
        sha256sumBefore: r.shaBefore,
        sha256sumAfter: r.shaAfter,
        firstPass: { wallMs: r.first.wallMs, cpuMs: r.first.cpuMs, summary: trimmed(r.first.summary) },
        rescans: r.rescans.map((x) => ({ wallMs: x.wallMs, cpuMs: x.cpuMs, summary: trimmed(x.summary) })),
      })),
      problems,
    };
    process.stdout.write(`${markdown(result, all)}\n`);
    if (options.profile) result.profiles = printProfiles(options.profileDir);

    const stamp = machine.date.replace(/:/g, '').replace(/\.\d+Z$/, 'Z');
    const out = options.out ?? path.join(REPO, 'bench/results', `catalog-${stamp}.json`);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(
      `\nResult: ${isWithin(out, process.cwd()) ? path.relative(process.cwd(), out) : out}\n`,
    );
    if (options.keep) process.stdout.write(`Kept: ${options.workDir}\n`);

    if (problems.length > 0) {
      process.stderr.write(`bench-catalog: the measurement is not valid:\n  ${problems.join('\n  ')}\n`);
      process.exitCode = 1;
    }
  } finally {
    if (!options.keep) {
      // Remove what this run created, nothing else: a tree reused from a kept run stays.
      for (const home of options.homes) fs.rmSync(home, { recursive: true, force: true });
      if (options.profile) fs.rmSync(options.profileDir, { recursive: true, force: true });
      if (createdWorkDir) fs.rmSync(options.workDir, { recursive: true, force: true });
      else if (tree?.generated) {
        fs.rmSync(tree.tree, { recursive: true, force: true });
        fs.rmSync(path.join(options.workDir, 'tree.json'), { force: true });
      }
    }
  }
}

try {
  await main();
} catch (error) {
  process.stderr.write(`bench-catalog: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
