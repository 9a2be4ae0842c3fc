/**
 * The benchmark suite (issue 7, PRODUCT section 7) on a generated archive:
 *
 *   npm run build && npm run bench [-- options]
 *
 * Options:
 *   --small                 200 photos / 5 videos (the CI smoke variant; a few minutes)
 *   --photos N --videos M --seed K   the archive to use (generated when missing; see `bench -- generate`)
 *   --archive DIR           where the archive is or goes (default: ~/.cache/archivist-bench/, named by the above; kept)
 *   --workers W             workers of the `core` run and processes of the bare loop (default 2)
 *   --rounds R              pipeline/bare alternations (default 3, 2 with --small; order flips every
 *                           round; the ratio is their median, so a noisy neighbour moves it less)
 *   --skip-bookkeeping      do not run scripts/bench-bookkeeping.mjs
 *   --skip-formats          do not run the per-format thumbnail bench (scripts/bench/formats.mjs)
 *   --profile               run one extra `core` run with `node --cpu-prof` on the coordinator and workers
 *                           and print the top self-time functions of the workers
 *   --keep                  keep the homes (the archive is always kept, it is expensive to make)
 *   --out FILE              the JSON result (default bench/results/bench-<date>.json; .md next to it)
 *
 * Measured, side by side in one invocation:
 *   - catalog first pass vs `sha256sum` over the same files (before and after), and an unchanged re-scan;
 *   - `core` run throughput vs the bare loop (scripts/bench/bare-worker.mjs) on the same assets, with the
 *     same number of processes, alternated; between them the steps loop (steps-worker.mjs), the steps'
 *     own code with no engine, which tells the steps' share of the gap from the engine's;
 *   - time from `run start --detach` to the first committed artifact (polling the home's SQLite file
 *     read-only);
 *   - peak worker RSS of a `core` run over 50 MP pictures only (peak-memory.mjs), and of the whole-archive
 *     runs (the run's own stats);
 *   - bookkeeping rate with a no-op step (scripts/bench-bookkeeping.mjs);
 *   - per format (JPEG, HEIC, PNG, TIFF, RAW preview, video keyframe), the `core` thumbnail step against
 *     `vipsthumbnail` / one `ffmpeg` frame on the same camera-sized files, with peak RSS (formats.mjs).
 * Targets are printed next to the numbers; the script never fails on a target, only when a measurement
 * itself is wrong (a command failed).
 */
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import Database from 'better-sqlite3';
import { generateArchive } from './generate.mjs';
import { measureApiLatency } from './api-latency.mjs';
import { formatsMarkdown, measureFormats } from './formats.mjs';
import { measurePeakMemory } from './peak-memory.mjs';
import { benchServer, bookkeepingMatrix, postgresHome } from './postgres.mjs';
import { CLI, REPO, cli, fmt, log, machineFacts, median, run, sleep, childrenCpuMs } from './lib.mjs';

const TARGETS = {
  pipelineVsBare: 0.9,
  firstArtifactSeconds: 2,
  firstPassVsSha256sum: 0.8,
  rescanFilesPerSec: 10000,
  bookkeepingItemsPerSec: 2000,
  peakWorkerRssBytes: 400 * 1024 * 1024,
  apiP95Ms: 100,
};

function parseArgs(argv) {
  const options = {
    small: false,
    photos: undefined,
    videos: undefined,
    seed: 1,
    archive: undefined,
    workers: 2,
    rounds: undefined,
    bookkeeping: true,
    formats: true,
    profile: false,
    keep: false,
    out: undefined,
  };
  const integer = (flag, value, min) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new Error(`${flag} needs an integer >= ${min}, got ${value}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    switch (arg) {
      case '--small':
        options.small = true;
        break;
      case '--photos':
        options.photos = integer(arg, value(), 1);
        break;
      case '--videos':
        options.videos = integer(arg, value(), 0);
        break;
      case '--seed':
        options.seed = integer(arg, value(), 0);
        break;
      case '--archive':
        options.archive = path.resolve(value());
        break;
      case '--workers':
        options.workers = integer(arg, value(), 1);
        break;
      case '--rounds':
        options.rounds = integer(arg, value(), 1);
        break;
      case '--skip-bookkeeping':
        options.bookkeeping = false;
        break;
      case '--skip-formats':
        options.formats = false;
        break;
      case '--profile':
        options.profile = true;
        break;
      case '--keep':
        options.keep = true;
        break;
      case '--out':
        options.out = path.resolve(value());
        break;
      default:
        throw new Error(`unknown option ${arg}`);
    }
  }
  options.photos ??= options.small ? 200 : 5000;
  options.videos ??= options.small ? 5 : 50;
  options.rounds ??= options.small ? 2 : 3;
  return options;
}

// ------------------------------------------------------------------------------------------ catalog

function listFiles(root) {
  const out = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) out.push(full);
    }
  };
  walk(root);
  return out.sort();
}

async function sha256sum(listFile) {
  // xargs -0 so file names with spaces and accents pass; one sha256sum per few thousand files.
  return run('bash', ['-c', `xargs -0 -a "$1" sha256sum > /dev/null`, 'bash', listFile]);
}

async function measureCatalog(home, archive, work) {
  const files = listFiles(archive);
  const listFile = path.join(work, 'files.nul');
  fs.writeFileSync(listFile, `${files.join('\0')}\0`);
  const shaBefore = await sha256sum(listFile);
  const first = await cli(home, ['catalog', '--json']);
  const shaAfter = await sha256sum(listFile);
  const rescan = await cli(home, ['catalog', '--json']);
  const firstSummary = JSON.parse(first.stdout)[0];
  const rescanSummary = JSON.parse(rescan.stdout)[0];
  return {
    files: files.length,
    sha256sumBeforeMs: shaBefore.wallMs,
    sha256sumAfterMs: shaAfter.wallMs,
    firstPassWallMs: first.wallMs,
    firstPassCpuMs: first.cpuMs,
    firstPassSummary: firstSummary,
    ratioBefore: shaBefore.wallMs / first.wallMs,
    ratioAfter: shaAfter.wallMs / first.wallMs,
    rescanWallMs: rescan.wallMs,
    rescanFilesPerSecWall: rescanSummary.scanned / (rescan.wallMs / 1000),
    rescanFilesPerSecInside: rescanSummary.scanned / (rescanSummary.durationMs / 1000),
    rescanSummary: {
      scanned: rescanSummary.scanned,
      unchanged: rescanSummary.unchanged,
      durationMs: rescanSummary.durationMs,
    },
  };
}

// ----------------------------------------------------------------------------------- pipeline vs bare

async function pipelineRun(home, workers, extraNodeArgs = []) {
  const started = performance.now();
  const result = await cli(
    home,
    // Production: the run a user makes over the whole archive, in catalog (path) order like the bare
    // loop. A sandbox run shuffles its items so its first results represent the scope: over an archive
    // larger than the page cache that turns the reads random, and the comparison would measure the disk.
    [
      'run',
      'start',
      'core',
      '--collection',
      'all',
      '--policy',
      'production',
      '--workers',
      String(workers),
      '--force',
      '--json',
    ],
    { nodeArgs: extraNodeArgs, allowFail: true },
  );
  const wallMs = performance.now() - started;
  let record;
  try {
    record = JSON.parse(result.stdout);
  } catch {
    throw new Error(`run start printed no JSON (exit ${result.code}):\n${result.stderr.slice(-2000)}`);
  }
  const shown = JSON.parse((await cli(home, ['run', 'show', record.id, '--json'])).stdout);
  const stats = shown.stats ?? record.stats ?? {};
  return {
    id: record.id,
    status: shown.status ?? record.status,
    counts: shown.counts ?? record.counts,
    wallMs,
    cpuMs: result.cpuMs,
    statsWallSeconds: stats.wallSeconds ?? null,
    peakWorkerRssBytes: stats.peakWorkerRssBytes ?? null,
    workerCpuMs: stats.workerCpuMs ?? null,
    stats,
  };
}

/**
 * The bare loop: W forked processes sharing one queue over IPC. With `steps`, the same processes run the
 * steps' own code instead of the tools alone (steps-worker.mjs), remembering tool versions in `home`.
 */
async function bareRun(assets, workers, steps = null) {
  const cpuBefore = childrenCpuMs();
  const started = performance.now();
  const threads = String(Math.max(1, Math.floor(os.cpus().length / workers)));
  let next = 0;
  const stats = await Promise.all(
    Array.from(
      { length: workers },
      () =>
        new Promise((resolve, reject) => {
          const entry = steps ? 'scripts/bench/steps-worker.mjs' : 'scripts/bench/bare-worker.mjs';
          const args = [
            path.join(REPO, 'dist'),
            ...(steps ? [path.join(steps.home, 'tool-versions.json')] : []),
          ];
          const child = fork(path.join(REPO, entry), args, {
            stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
            env: {
              ...process.env,
              VIPS_CONCURRENCY: threads,
              UV_THREADPOOL_SIZE: String(Math.max(4, Number(threads))),
            },
          });
          let result = null;
          child.on('message', (message) => {
            if (message.type === 'next') {
              if (next < assets.length) child.send({ type: 'asset', asset: assets[next++] });
              else child.send({ type: 'stop' });
            } else if (message.type === 'stats') result = message;
          });
          child.on('error', reject);
          child.on('exit', (code) =>
            code === 0 && result ? resolve(result) : reject(new Error(`bare worker exited ${code}`)),
          );
        }),
    ),
  );
  const wallMs = performance.now() - started;
  const cpuAfter = childrenCpuMs();
  return {
    wallMs,
    cpuMs: cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore,
    done: stats.reduce((s, x) => s + x.done, 0),
    failed: stats.reduce((s, x) => s + x.failed, 0),
    peakRssBytes: Math.max(...stats.map((x) => x.rss)),
  };
}

// ------------------------------------------------------------------------------------ first artifact

async function firstArtifact(home, workers) {
  const db = new Database(path.join(home, 'archivist.db'), { readonly: true, fileMustExist: true });
  try {
    const before = db.prepare('select count(*) as n from artifacts').get().n;
    const count = db.prepare('select count(*) as n from artifacts');
    const started = performance.now();
    const detach = cli(home, [
      'run',
      'start',
      'core',
      '--collection',
      'all',
      '--workers',
      String(workers),
      '--force',
      '--detach',
      '--json',
    ]);
    let firstMs = null;
    let detachReturnedMs = null;
    detach.then(() => (detachReturnedMs = performance.now() - started)).catch(() => undefined);
    while (performance.now() - started < 60_000) {
      if (count.get().n > before) {
        firstMs = performance.now() - started;
        break;
      }
      await sleep(10);
    }
    const detached = await detach;
    let runId = null;
    try {
      runId = JSON.parse(detached.stdout).id ?? null;
    } catch {
      /* reported below */
    }
    // Stop the detached run: only its first artifact was wanted.
    if (runId) {
      await cli(home, ['run', 'cancel', runId], { allowFail: true });
      const status = db.prepare('select status from runs where id = ?');
      const until = performance.now() + 30_000;
      while (
        performance.now() < until &&
        ['running', 'pending', 'queued', 'cancelling'].includes(status.get(runId)?.status)
      )
        await sleep(100);
    }
    return { firstArtifactMs: firstMs, detachReturnedMs, runId };
  } finally {
    db.close();
  }
}

// -------------------------------------------------------------------------------------- bookkeeping

// ------------------------------------------------------------------------------------------ profile

function topSelfTime(file, limit = 12) {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const frame = byId.get(profile.samples[i]).callFrame;
    const dt = profile.timeDeltas[i] ?? 0;
    total += dt;
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

// ------------------------------------------------------------------------------------------- report

function verdict(value, target, lowerIsBetter = false) {
  if (value === null || !Number.isFinite(value)) return '?';
  return (lowerIsBetter ? value <= target : value >= target) ? 'met' : '**missed**';
}

function markdown(r) {
  const m = r.machine;
  const p = r.pipeline;
  const mb = (b) => (b === null || b === undefined ? '—' : `${fmt(b / 2 ** 20)} MiB`);
  const rows = [
    ['Measure', 'Value', 'Target', ''],
    ['---', '---:', '---:', '---'],
    [
      'Catalog first pass ÷ `sha256sum` (before / after)',
      `${fmt(r.catalog.ratioBefore, 2)}× / ${fmt(r.catalog.ratioAfter, 2)}×`,
      `≥ ${TARGETS.firstPassVsSha256sum}×`,
      verdict(Math.min(r.catalog.ratioBefore, r.catalog.ratioAfter), TARGETS.firstPassVsSha256sum),
    ],
    [
      'Unchanged re-scan, files/s (wall / inside)',
      `${fmt(r.catalog.rescanFilesPerSecWall)} / ${fmt(r.catalog.rescanFilesPerSecInside)}`,
      `≥ ${fmt(TARGETS.rescanFilesPerSec)}`,
      // Judged on the catalog's own durationMs: on a small archive the wall time is Node's start-up.
      verdict(r.catalog.rescanFilesPerSecInside, TARGETS.rescanFilesPerSec),
    ],
    [
      '`core` run ÷ bare loop, throughput (median of rounds, wall)',
      `${fmt(p.ratio, 2)}× (rounds: ${p.ratios.map((x) => fmt(x, 2)).join(', ')})`,
      `≥ ${TARGETS.pipelineVsBare}×`,
      verdict(p.ratio, TARGETS.pipelineVsBare),
    ],
    [
      '`core` run ÷ bare loop, CPU (bare CPU ÷ run CPU)',
      p.cpuRatio === null ? '—' : `${fmt(p.cpuRatio, 2)}×`,
      '',
      '',
    ],
    [
      "Where the gap is: steps loop ÷ bare loop (the steps' own code) / `core` run ÷ steps loop (the engine), wall",
      p.stepsVsBare ? `${fmt(p.stepsVsBare, 2)}× / ${fmt(p.runVsSteps, 2)}×` : '—',
      '',
      '',
    ],
    ['`core` run, assets/s (median)', fmt(p.pipelineAssetsPerSec, 2), '', ''],
    ['Bare loop, assets/s (median)', fmt(p.bareAssetsPerSec, 2), '', ''],
    [
      'First artifact after `run start --detach`',
      r.firstArtifact.firstArtifactMs === null
        ? 'none in 60 s'
        : `${fmt(r.firstArtifact.firstArtifactMs / 1000, 2)} s`,
      `< ${TARGETS.firstArtifactSeconds} s`,
      verdict((r.firstArtifact.firstArtifactMs ?? Infinity) / 1000, TARGETS.firstArtifactSeconds, true),
    ],
    [
      `Peak worker RSS, \`core\` over 50 MP pictures only (${r.peakMemory.files.length} files: baseline and progressive JPEG, PNG, TIFF; ${r.peakMemory.counts?.done ?? '?'} items done)`,
      mb(r.peakMemory.peakWorkerRssBytes),
      `< ${mb(TARGETS.peakWorkerRssBytes)}`,
      verdict(r.peakMemory.peakWorkerRssBytes, TARGETS.peakWorkerRssBytes, true),
    ],
    [
      'Peak worker RSS, `core` runs over the whole archive (HEICs decode in WebAssembly)',
      mb(p.peakWorkerRssBytes),
      '',
      '',
    ],
    ['Peak RSS, bare loop process', mb(p.barePeakRssBytes), '', ''],
    ...Object.entries(r.api.endpoints).map(([name, e]) => [
      `API \`${e.path.replace(/\/r-[a-z0-9]+/, '/:run')}\` (${name}) at ${fmt(r.api.assets)} assets, run ${r.api.runActiveThroughout ? 'active throughout' : '**not active throughout**'}: p50 / p95 ms`,
      `${fmt(e.p50Ms, 1)} / ${fmt(e.p95Ms, 1)}`,
      `< ${TARGETS.apiP95Ms}`,
      verdict(e.p95Ms, TARGETS.apiP95Ms, true),
    ]),
    ...(
      r.bookkeeping?.matrix ?? [{ dialect: 'sqlite', workers: 2, itemsPerSec: null, skipped: 'skipped' }]
    ).map((x) => [
      `Bookkeeping, no-op step, work items/s (${x.dialect === 'postgres' ? 'PostgreSQL' : 'SQLite'}, ${x.workers} workers)`,
      x.itemsPerSec === null ? `skipped${x.skipped ? `: ${x.skipped}` : ''}` : fmt(x.itemsPerSec),
      `≥ ${fmt(TARGETS.bookkeepingItemsPerSec)}`,
      x.itemsPerSec === null ? '' : verdict(x.itemsPerSec, TARGETS.bookkeepingItemsPerSec),
    ]),
    [
      '`core` ÷ bare on PostgreSQL (wall-clock ratio, median)',
      r.postgresPipeline?.ratio
        ? fmt(r.postgresPipeline.ratio, 2)
        : `skipped${r.postgresPipeline?.skipped ? `: ${r.postgresPipeline.skipped}` : ''}`,
      `≥ ${TARGETS.pipelineVsBare}`,
      r.postgresPipeline?.ratio ? verdict(r.postgresPipeline.ratio, TARGETS.pipelineVsBare) : '',
    ],
  ];
  const roundRows = p.rounds.map(
    (x) =>
      `| ${x.round} | ${x.order} | ${fmt(x.pipeline.wallMs / 1000, 1)} s (stats ${fmt(x.pipeline.statsWallSeconds, 1)} s) | ${x.steps ? `${fmt(x.steps.wallMs / 1000, 1)} s` : '—'} | ${fmt(x.bare.wallMs / 1000, 1)} s | ${fmt(x.ratio, 2)}× | ${x.pipeline.counts ? `${x.pipeline.counts.done ?? '?'} done, ${x.pipeline.counts.failed ?? 0} failed` : '?'} | ${x.bare.done} done, ${x.bare.failed} failed |`,
  );
  const t = m.tools;
  return [
    `## Benchmarks, ${m.date.slice(0, 10)} (${r.scale})`,
    '',
    `Archive: ${fmt(r.archive.files)} files, ${fmt(r.archive.bytes / 1e9, 2)} GB (${r.archive.counts.jpeg} JPEG, ` +
      `${r.archive.counts.png} PNG, ${r.archive.counts.heic} HEIC, ${r.archive.counts.video} videos, ` +
      `${r.archive.counts.duplicates} duplicates, ${r.archive.counts.sidecars} sidecars, ${r.archive.counts.junk} junk, ` +
      `${r.archive.counts.corrupt} corrupt), seed ${r.archive.seed}; ${r.assets.images} images + ${r.assets.videos} videos cataloged.`,
    `Machine: ${m.cores} cores (${m.cpuModel ?? '?'}), ${fmt(m.memoryBytes / 2 ** 30, 1)} GiB, Node ${m.node}, ` +
      `${m.platform}; load ${m.loadAverage.map((x) => x.toFixed(2)).join(' ')} before, ` +
      `${(m.loadAverageAfter ?? []).map((x) => x.toFixed(2)).join(' ')} after; commit ${m.commit ?? '?'}.`,
    `Tools: sharp ${t.sharp ?? '?'}, exiftool ${t.exiftool ?? '?'}, ffmpeg ${t.ffmpeg ?? '?'}, sha256sum ${t.sha256sum ?? '?'}.`,
    '',
    ...rows.map((row) => `| ${row.join(' | ')} |`),
    '',
    `Pipeline vs bare, ${r.options.workers} processes each, every asset through \`metadata\` and \`thumbnail\`:`,
    '',
    '| Round | Order | `core` run | Steps loop | Bare loop | Ratio | Run items | Bare steps |',
    '| ---: | --- | ---: | ---: | ---: | ---: | --- | --- |',
    ...roundRows,
    '',
    'Ratio = bare wall ÷ run wall (both from spawn to exit, Node start-up included). Targets: PRODUCT section 7, ' +
      'informative; the script never fails on them. The steps loop (scripts/bench/steps-worker.mjs) runs the ' +
      "two steps' own code in the bare loop's processes, with no database, store or lineage.",
    ...(r.formats
      ? [
          '',
          `Per format, the \`core\` thumbnail step against the fastest native tool (\`vipsthumbnail\`, one \`ffmpeg\` ` +
            `frame) on the same camera-sized files, ${r.options.workers} lanes each (targets: HEIC CPU ratio ≤ 1.5×, JPEG ≤ 1.2×):`,
          '',
          formatsMarkdown(r.formats),
        ]
      : []),
  ].join('\n');
}

// --------------------------------------------------------------------------------------------- main

export async function benchCommand(argv) {
  const options = parseArgs(argv);
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} does not exist: run \`npm run build\` first`);
  const archive = await generateArchive({
    photos: options.photos,
    videos: options.videos,
    seed: options.seed,
    out: options.archive,
  });
  const work = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'archivist-bench-')));
  const home = path.join(work, 'home');
  const machine = await machineFacts(work);
  let server = null;
  try {
    log(`home ${home}`);
    await cli(home, ['init', '--json']);
    await cli(home, ['source', 'add', 'bench', archive.root, '--json']);

    log('catalog vs sha256sum');
    const catalog = await measureCatalog(home, archive.root, work);

    await cli(home, ['collection', 'create', 'all', '--json']);
    const listed = JSON.parse((await cli(home, ['assets', '--json', '--limit', '1000000'])).stdout);
    const assets = listed
      .filter((a) => a.mediaType === 'image' || a.mediaType === 'video')
      .map((a) => {
        const file = (a.locations.find((l) => l.status === 'present') ?? a.locations[0]).absolutePath;
        // What a worker knows of the asset from the catalog, for the steps loop's checks.
        const stat = fs.statSync(file, { bigint: true });
        return {
          ...{ id: a.id, mediaType: a.mediaType, mime: a.mime, size: a.size, file },
          ...{ mtimeNs: stat.mtimeNs.toString(), inode: stat.ino.toString() },
        };
      });
    log(`${assets.length} image/video assets`);

    const rounds = [];
    for (let round = 1; round <= options.rounds; round++) {
      const pipelineFirst = round % 2 === 1;
      log(
        `round ${round}/${options.rounds}: ${pipelineFirst ? 'pipeline, then bare' : 'bare, then pipeline'}`,
      );
      let pipeline;
      let bare;
      let steps;
      if (pipelineFirst) {
        pipeline = await pipelineRun(home, options.workers);
        bare = await bareRun(assets, options.workers);
        steps = await bareRun(assets, options.workers, { home });
      } else {
        steps = await bareRun(assets, options.workers, { home });
        bare = await bareRun(assets, options.workers);
        pipeline = await pipelineRun(home, options.workers);
      }
      const ratio = bare.wallMs / pipeline.wallMs;
      log(
        `  run ${fmt(pipeline.wallMs / 1000, 1)} s, steps ${fmt(steps.wallMs / 1000, 1)} s, bare ${fmt(bare.wallMs / 1000, 1)} s, ratio ${fmt(ratio, 2)}`,
      );
      rounds.push({
        round,
        order: pipelineFirst ? 'run → bare → steps' : 'steps → bare → run',
        pipeline,
        bare,
        steps,
        ratio,
      });
    }
    const cpuRatios = rounds
      .filter((x) => x.pipeline.cpuMs && x.bare.cpuMs)
      .map((x) => x.bare.cpuMs / x.pipeline.cpuMs);
    const pipeline = {
      rounds,
      ratios: rounds.map((x) => x.ratio),
      ratio: median(rounds.map((x) => x.ratio)),
      cpuRatio: cpuRatios.length ? median(cpuRatios) : null,
      // Where the gap is: the steps' own code against the tools alone, the engine against the steps.
      stepsVsBare: median(rounds.map((x) => x.bare.wallMs / x.steps.wallMs)),
      runVsSteps: median(rounds.map((x) => x.steps.wallMs / x.pipeline.wallMs)),
      pipelineAssetsPerSec: median(rounds.map((x) => assets.length / (x.pipeline.wallMs / 1000))),
      bareAssetsPerSec: median(rounds.map((x) => assets.length / (x.bare.wallMs / 1000))),
      peakWorkerRssBytes: Math.max(...rounds.map((x) => x.pipeline.peakWorkerRssBytes ?? 0)) || null,
      barePeakRssBytes: Math.max(...rounds.map((x) => x.bare.peakRssBytes ?? 0)) || null,
    };

    // The same comparison with PostgreSQL as the truth store: a second home over the same archive.
    server = await benchServer();
    let postgresPipeline = server.url ? null : { skipped: server.reason };
    if (server.url) {
      const pgHome = path.join(work, 'home-postgres');
      await postgresHome(pgHome, archive.root, server.url);
      const pgRounds = [];
      for (let round = 1; round <= options.rounds; round++) {
        const pipelineFirst = round % 2 === 1;
        log(
          `PostgreSQL round ${round}/${options.rounds}: ${pipelineFirst ? 'pipeline, then bare' : 'bare, then pipeline'}`,
        );
        const first = pipelineFirst
          ? await pipelineRun(pgHome, options.workers)
          : await bareRun(assets, options.workers);
        const second = pipelineFirst
          ? await bareRun(assets, options.workers)
          : await pipelineRun(pgHome, options.workers);
        const [pipelineRound, bare] = pipelineFirst ? [first, second] : [second, first];
        const ratio = bare.wallMs / pipelineRound.wallMs;
        log(
          `  run ${fmt(pipelineRound.wallMs / 1000, 1)} s, bare ${fmt(bare.wallMs / 1000, 1)} s, ratio ${fmt(ratio, 2)}`,
        );
        pgRounds.push({
          round,
          order: pipelineFirst ? 'run → bare' : 'bare → run',
          pipeline: pipelineRound,
          bare,
          ratio,
        });
      }
      postgresPipeline = {
        rounds: pgRounds,
        ratios: pgRounds.map((x) => x.ratio),
        ratio: median(pgRounds.map((x) => x.ratio)),
      };
    }

    log('first artifact after run start --detach');
    const first = await firstArtifact(home, options.workers);

    const peakMemory = await measurePeakMemory(home, work, options.workers);

    // 100,000 cataloged assets (synthetic rows) at the default scale; the smoke test only checks it runs.
    log('API latency while a run is active (scripts/bench/api-latency.mjs)');
    const api = await measureApiLatency(
      options.small ? { assets: 20000, files: 600, requests: 40 } : { assets: 100000 },
    );

    let bookkeepingResult = null;
    if (options.bookkeeping) {
      log('bookkeeping (scripts/bench-bookkeeping.mjs), SQLite and PostgreSQL, 2 and 8 workers');
      const matrix = await bookkeepingMatrix(server);
      const sqlite2 = matrix.find((x) => x.dialect === 'sqlite' && x.workers === 2);
      bookkeepingResult = { itemsPerSec: sqlite2.itemsPerSec, rounds: sqlite2.rounds, matrix };
    }

    let formats = null;
    if (options.formats) {
      log('per format (scripts/bench/formats.mjs)');
      formats = await measureFormats({ work, workers: options.workers, files: options.small ? 2 : 6 });
    }

    let profile = null;
    if (options.profile) {
      log('profiled run (--cpu-prof)');
      const dir = path.join(work, 'profiles');
      fs.mkdirSync(dir);
      // The coordinator forks its workers with its own execArgv, so --cpu-prof reaches them too (Node 20
      // refuses it in NODE_OPTIONS).
      await pipelineRun(home, options.workers, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
      profile = {};
      for (const name of fs
        .readdirSync(dir)
        .filter((n) => n.endsWith('.cpuprofile'))
        .sort()) {
        profile[name] = topSelfTime(path.join(dir, name));
      }
    }

    machine.loadAverageAfter = os.loadavg();
    const result = {
      benchmark: 'suite',
      scale: options.small
        ? 'small'
        : options.photos === 5000 && options.videos === 50
          ? 'default'
          : 'custom',
      command: `npm run bench -- ${argv.join(' ')}`.trim(),
      machine,
      options: { ...options, out: undefined },
      targets: TARGETS,
      archive: {
        root: archive.root,
        files: archive.files,
        bytes: archive.bytes,
        counts: archive.counts,
        seed: archive.seed,
        generateMs: archive.generateMs,
        reused: archive.reused,
      },
      assets: {
        images: assets.filter((a) => a.mediaType === 'image').length,
        videos: assets.filter((a) => a.mediaType === 'video').length,
      },
      catalog,
      pipeline,
      firstArtifact: first,
      peakMemory,
      api,
      bookkeeping: bookkeepingResult,
      formats,
      postgresPipeline,
      profile,
    };
    const text = markdown(result);
    process.stdout.write(`${text}\n`);
    if (profile) {
      for (const [name, digest] of Object.entries(profile)) {
        process.stdout.write(
          `\n### ${name}: top self time (of ${fmt(digest.totalMs)} ms)\n\n| Self ms | Share | Function |\n| ---: | ---: | --- |\n`,
        );
        for (const row of digest.top)
          process.stdout.write(`| ${fmt(row.selfMs)} | ${fmt(row.share * 100, 1)} % | \`${row.name}\` |\n`);
      }
    }
    const stamp = machine.date.replace(/:/g, '').replace(/\.\d+Z$/, 'Z');
    const out = options.out ?? path.join(REPO, 'bench/results', `bench-${result.scale}-${stamp}.json`);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    fs.writeFileSync(out.replace(/\.json$/, '.md'), `${text}\n`);
    process.stdout.write(`\nResult: ${path.relative(process.cwd(), out)} (+ .md)\n`);
  } finally {
    server?.stop?.();
    if (options.keep) process.stdout.write(`Kept: ${work}\n`);
    else fs.rmSync(work, { recursive: true, force: true });
  }
}
