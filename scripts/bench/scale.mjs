#!/usr/bin/env node
/**
 * The catalog and the listings at scale (issue 17).
 *
 *   npm run build && npm run bench -- --scale 1000000
 *   node scripts/bench/scale.mjs --assets N [--dialect sqlite|postgres|both] [--requests R] [--keep]
 *     [--archive DIR] [--out DIR]
 *
 * Per dialect, on one home:
 *  1. a generated archive of N small files in YEAR/YYYY-MM-DD event-K/ folders (about 100 per folder, 1 % of
 *     them copies of another, file times spread over 25 years) is cataloged: first pass and unchanged
 *     re-scan, files/s (wall time of the CLI process) and its peak RSS (`/usr/bin/time`);
 *  2. capture facts are given to 80 % of the assets (a camera and the capture day, as a metadata run
 *     would: one UPDATE, the files are tiny fakes), then a real `core` run starts over a small folder of
 *     real JPEGs (a few corrupt) and stays active while the API is measured;
 *  3. each listing query: cold (the first request after `serve` starts, one fresh server per query),
 *     then warm p50/p95 over R requests round-robin, and the server's peak RSS;
 *  4. `assets --json --limit 100` wall time, and the database's size per asset.
 * Results go to bench/results/scale-<N>-<date>.{json,md}. Numbers are reported against the targets; the
 * script fails only when a measurement is broken (a command failed, a count is wrong).
 */
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';
import pg from 'pg';
import { CLI, REPO, benchCacheDir, cli, log, median, run, sleep } from './lib.mjs';

const TARGETS = { rescanRssMb: 300, firstPassFilesPerSec: 8000, p95Ms: 100, coldMs: 300, serverRssMb: 300 };
const PER_FOLDER = 100;

/** The archive: N files, deterministic, kept between runs of the same N (a marker file says it is whole). */
function generateArchive(dir, count) {
  const marker = `${dir}.complete`; // beside the archive, not in it: the catalog would count it
  if (fs.existsSync(marker) && fs.readFileSync(marker, 'utf8') === String(count)) return;
  fs.rmSync(dir, { recursive: true, force: true });
  const started = performance.now();
  const head = Buffer.from([0xff, 0xd8, 0xff, 0xe0]);
  for (let i = 0; i < count; i++) {
    const folder = Math.floor(i / PER_FOLDER);
    const year = 2000 + (folder % 25);
    const day = new Date(Date.UTC(year, 0, 1) + ((folder * 7919) % 365) * 86_400_000);
    const date = day.toISOString().slice(0, 10);
    const rel = `${year}/${date} event-${folder}/IMG_${String(i).padStart(7, '0')}.jpg`;
    const file = path.join(dir, rel);
    if (i % PER_FOLDER === 0) fs.mkdirSync(path.dirname(file), { recursive: true });
    // 1 % are copies: the same bytes as the file 50 before (the duplicates filter has something to find).
    const id = i % 100 === 99 ? i - 50 : i;
    const when = new Date(day.getTime() + (i % 86_400) * 1000);
    const fd = fs.openSync(file, 'w');
    fs.writeSync(fd, Buffer.concat([head, Buffer.from(`archivist scale bench ${id}\n`)]));
    fs.futimesSync(fd, when, when);
    fs.closeSync(fd);
    if (i > 0 && i % 100_000 === 0) log(`generated ${i} files`);
  }
  fs.writeFileSync(marker, String(count));
  log(`generated ${count} files in ${Math.round((performance.now() - started) / 1000)} s`);
}

/** A few hundred real JPEGs (and a few corrupt ones) for a `core` run that stays active. */
async function writeRealJpegs(dir, count) {
  const sharp = (await import('sharp')).default;
  const create = {
    width: 480,
    height: 360,
    channels: 3,
    background: '#777',
    noise: { type: 'gaussian', mean: 120, sigma: 12 },
  };
  const base = await sharp({ create }).jpeg({ quality: 85 }).toBuffer();
  fs.mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++) {
    const text = Buffer.from(`archivist scale bench real ${i}`);
    const com = Buffer.from([0xff, 0xfe, (text.length + 2) >> 8, (text.length + 2) & 0xff]);
    const bytes = Buffer.concat([base.subarray(0, 2), com, text, base.subarray(2)]);
    // Every 50th is cut short: a failure for `failedIn`.
    fs.writeFileSync(path.join(dir, `REAL_${i}.jpg`), i % 50 === 0 ? bytes.subarray(0, 600) : bytes);
  }
}

/** A CLI command under /usr/bin/time: wall time and peak RSS (MB) of the process. */
async function timedCli(home, args) {
  const result = await run(
    '/usr/bin/time',
    ['-f', 'MAXRSS %M', process.execPath, CLI, '--home', home, ...args],
    {
      env: { ...process.env, ARCHIVIST_HOME: '', CI: 'true' },
    },
  );
  const rss = /MAXRSS (\d+)/.exec(result.stderr);
  return { ...result, peakRssMb: rss ? Math.round(Number(rss[1]) / 1024) : null };
}

function startServe(home) {
  const child = spawn(process.execPath, [CLI, '--home', home, 'serve', '--port', '0', '--json'], {
    env: { ...process.env, ARCHIVIST_HOME: '', CI: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (chunk) => (err += chunk));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      out += chunk;
      try {
        resolve({ child, url: new URL(JSON.parse(out).url) });
      } catch {
        /* not the whole document yet */
      }
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}\n${err.slice(-2000)}`)));
  });
}

async function stopServe(serve) {
  const rss = serverRssMb(serve.child.pid);
  serve.child.kill('SIGINT');
  if (serve.child.exitCode === null) await new Promise((resolve) => serve.child.once('close', resolve));
  return rss;
}

/** VmHWM (peak) and VmRSS of a live process, in MB. */
function serverRssMb(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { peak: Math.round(kb('VmHWM') / 1024), now: Math.round(kb('VmRSS') / 1024) };
}

async function timedGet(url) {
  const started = performance.now();
  const response = await globalThis.fetch(url);
  const body = await response.text();
  const ms = performance.now() - started;
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}: ${body.slice(0, 500)}`);
  return { ms, body };
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
const round = (ms) => Math.round(ms * 10) / 10;

/** Gives 80 % of the assets a camera and a capture day (from their sort time), as metadata would. */
async function addCaptureFacts(home, dialect) {
  const day =
    dialect === 'sqlite'
      ? "strftime('%Y-%m-%d', sort_ms / 1000, 'unixepoch')"
      : "to_char(to_timestamp(sort_ms / 1000.0) at time zone 'UTC', 'YYYY-MM-DD')";
  const cameras = [
    'Canon EOS 5D Mark IV',
    'NIKON CORPORATION NIKON D750',
    'SONY ILCE-7M3',
    'Apple iPhone 12',
  ];
  const pick = (i) => `'${cameras[i % cameras.length]}'`;
  const camera = `case substr(asset_id, 1, 1) ${'0123456789ab'
    .split('')
    .map((c, i) => `when '${c}' then ${pick(i)}`)
    .join(' ')} else null end`;
  const statement = `update asset_facts set camera = ${camera}, camera_key = lower(${camera}),
    taken_day = case when substr(asset_id, 1, 1) < 'd' then ${day} else null end`;
  await query(home, dialect, statement);
}

/** One SQL statement on the home's database, through the built store (either dialect). */
async function query(home, dialect, statement) {
  const { openHome } = await import(path.join(REPO, 'dist/home/home.js'));
  const { sql } = await import(path.join(REPO, 'dist/vendor/kysely.js'));
  const opened = await openHome(home);
  try {
    return (await sql.raw(statement).execute(opened.db)).rows;
  } finally {
    await opened.close();
  }
}

async function databaseBytes(home, dialect) {
  if (dialect === 'sqlite') {
    return ['archivist.db', 'archivist.db-wal']
      .map((f) => path.join(home, f))
      .filter((f) => fs.existsSync(f))
      .reduce((sum, f) => sum + fs.statSync(f).size, 0);
  }
  const rows = await query(home, dialect, 'select pg_database_size(current_database()) as n');
  return Number(rows[0].n);
}

async function benchDialect(dialect, o, work, archive) {
  const home = path.join(work, `home-${dialect}`);
  let cluster;
  const result = { dialect, assets: o.assets };
  let runId = null;
  try {
    let database = [];
    if (dialect === 'postgres') {
      const { startCluster } = await import(path.join(REPO, 'scripts/pg-cluster.mjs'));
      cluster = await startCluster({ durable: true });
      const admin = new pg.Client({ connectionString: cluster.url });
      await admin.connect();
      await admin.query('create database archivist_scale');
      await admin.end();
      const url = new URL(cluster.url);
      url.pathname = '/archivist_scale';
      database = ['--database', url.toString()];
    }
    await cli(home, ['init', '--json', ...database]);
    await cli(home, ['source', 'add', 'archive', archive, '--json']);

    for (const pass of ['firstPass', 'rescan']) {
      const measured = await timedCli(home, ['catalog', 'archive', '--json']);
      const [s] = JSON.parse(measured.stdout);
      const expected = pass === 'firstPass' ? s.new + s.unchanged === o.assets : s.unchanged === o.assets;
      if (!expected) throw new Error(`${pass}: unexpected summary ${measured.stdout.slice(0, 500)}`);
      result[pass] = {
        files: o.assets,
        seconds: round(measured.wallMs / 1000),
        filesPerSec: Math.round(o.assets / (measured.wallMs / 1000)),
        // CPU time (user + system) moves much less than wall time when other work shares the machine.
        cpuSeconds: measured.cpuMs === null ? null : round(measured.cpuMs / 1000),
        filesPerCpuSec: measured.cpuMs ? Math.round(o.assets / (measured.cpuMs / 1000)) : null,
        loadAverage: os.loadavg()[0],
        peakRssMb: measured.peakRssMb,
      };
      log(`${dialect} ${pass}: ${JSON.stringify(result[pass])}`);
    }
    await addCaptureFacts(home, dialect);

    // A real run over real JPEGs, active while the API is measured.
    const real = path.join(work, 'real');
    if (!fs.existsSync(real)) await writeRealJpegs(real, o.realFiles);
    await cli(home, ['source', 'add', 'real', real, '--json']);
    await cli(home, ['catalog', 'real', '--json']);
    await cli(home, ['collection', 'create', 'real', '--source', 'real', '--json']);
    runId = JSON.parse(
      (
        await cli(home, [
          'run',
          'start',
          'core',
          '--collection',
          'real',
          '--workers',
          '1',
          '--policy',
          'production',
          '--detach',
          '--json',
        ])
      ).stdout,
    ).id;

    const endpoints = {
      gridNewest: '/api/assets?sort=newest&limit=120',
      gridOldest: '/api/assets?sort=oldest&limit=120',
      timeline: '/api/assets/timeline?sort=newest',
      jumpToMonth: '/api/assets?sort=newest&month=2012-06&limit=120',
      pathOrder: '/api/assets?sort=path&limit=120',
      type: '/api/assets?sort=newest&type=video&limit=120',
      source: '/api/assets?sort=newest&source=archive&limit=120',
      pathGlob: `/api/assets?sort=newest&path=${encodeURIComponent('2013/*')}&limit=120`,
      takenRange: '/api/assets?sort=newest&takenFrom=2010-03-01&takenTo=2010-08-31&limit=120',
      camera: `/api/assets?sort=newest&camera=${encodeURIComponent('Canon EOS 5D Mark IV')}&limit=120`,
      hasThumbnail: '/api/assets?sort=newest&has=thumbnail&limit=120',
      lacksThumbnail: '/api/assets?sort=newest&lacks=thumbnail&limit=120',
      missingStep: '/api/assets?sort=newest&missing=thumbnail&limit=120',
      failedInRun: `/api/assets?sort=newest&failedIn=${runId}&limit=120`,
      duplicates: '/api/assets?sort=newest&duplicates=true&limit=120',
      runProgress: `/api/runs/${runId}`,
    };
    // A page deep in the listing, by its cursor: where the 2005-01 page ends.
    let serve = await startServe(home);
    const deep = JSON.parse(
      (await timedGet(new URL('/api/assets?sort=newest&month=2005-01&limit=120', serve.url))).body,
    );
    endpoints.deepCursorPage = `/api/assets?sort=newest&limit=120&cursor=${deep.nextCursor}`;
    await stopServe(serve);

    // Warm first (while the run is surely active): R rounds over one server, round-robin.
    const api = Object.fromEntries(Object.entries(endpoints).map(([name, p]) => [name, { path: p }]));
    serve = await startServe(home);
    const samples = Object.fromEntries(Object.keys(endpoints).map((name) => [name, []]));
    const status = async () =>
      JSON.parse((await timedGet(new URL(`/api/runs/${runId}`, serve.url))).body).status;
    let activeThroughout = ['queued', 'running'].includes(await status());
    for (let i = 0; i < o.requests; i++) {
      for (const [name, p] of Object.entries(endpoints)) {
        const { ms, body } = await timedGet(new URL(p, serve.url));
        samples[name].push(ms);
        const total = JSON.parse(body).total;
        if (total !== undefined) api[name].total = total;
      }
      if (i % 10 === 0) activeThroughout &&= ['queued', 'running'].includes(await status());
    }
    activeThroughout &&= ['queued', 'running'].includes(await status());
    for (const [name, list] of Object.entries(samples)) {
      const sorted = [...list].sort((a, b) => a - b);
      Object.assign(api[name], { p50Ms: round(median(sorted)), p95Ms: round(percentile(sorted, 0.95)) });
    }
    let serverPeak = (await stopServe(serve)).peak;
    // Cold: the first request after `serve` starts, one fresh server per query.
    let coldActive = true;
    for (const [name, p] of Object.entries(endpoints)) {
      serve = await startServe(home);
      api[name].coldMs = round((await timedGet(new URL(p, serve.url))).ms);
      coldActive &&= ['queued', 'running'].includes(await status());
      const rss = await stopServe(serve);
      serverPeak = Math.max(serverPeak, rss.peak);
    }
    result.api = api;
    result.runActiveThroughout = { warm: activeThroughout, cold: coldActive };
    result.serverRssMb = { peak: serverPeak };

    const listing = await timedCli(home, ['assets', '--json', '--limit', '100']);
    if (JSON.parse(listing.stdout).length !== 100)
      throw new Error('assets --json --limit 100 did not list 100');
    result.assetsJsonLimit100 = { ms: Math.round(listing.wallMs), peakRssMb: listing.peakRssMb };
    const bytes = await databaseBytes(home, dialect);
    result.database = { bytes, bytesPerAsset: Math.round(bytes / o.assets) };
    log(`${dialect}: ${JSON.stringify(result)}`);
    return result;
  } finally {
    if (runId) await cli(home, ['run', 'cancel', runId, '--json'], { allowFail: true });
    await sleep(1000);
    cluster?.stop();
  }
}

export function resultsTable(results) {
  const lines = [];
  for (const r of results) {
    lines.push(`### ${r.dialect}, ${r.assets.toLocaleString('en')} assets`, '');
    lines.push('| measure | value | target |', '|---|---|---|');
    // Wall time moves with whatever else the machine runs; CPU seconds and the load average say how much.
    const pass = (p) =>
      `${p.filesPerSec} files/s of wall time (${p.seconds} s; ${p.cpuSeconds} CPU-seconds: ${p.filesPerCpuSec} files per CPU-second; load ${p.loadAverage?.toFixed?.(1) ?? p.loadAverage}), peak RSS ${p.peakRssMb} MB`;
    lines.push(`| first pass | ${pass(r.firstPass)} | >= ${TARGETS.firstPassFilesPerSec} files/s |`);
    lines.push(`| re-scan | ${pass(r.rescan)} | RSS < ${TARGETS.rescanRssMb} MB |`);
    lines.push(`| server RSS | peak ${r.serverRssMb.peak} MB | < ${TARGETS.serverRssMb} MB |`);
    lines.push(`| assets --json --limit 100 | ${r.assetsJsonLimit100.ms} ms | |`);
    lines.push(`| database | ${r.database.bytesPerAsset} bytes/asset | |`);
    lines.push(
      `| run active throughout | warm: ${r.runActiveThroughout.warm}, cold: ${r.runActiveThroughout.cold} | |`,
      '',
    );
    lines.push('| query | cold ms | p50 ms | p95 ms | total |', '|---|---|---|---|---|');
    for (const [name, e] of Object.entries(r.api))
      lines.push(`| ${name} | ${e.coldMs} | ${e.p50Ms} | ${e.p95Ms} | ${e.total ?? ''} |`);
    lines.push('');
  }
  return lines.join('\n');
}

export async function benchScale(options) {
  const o = {
    assets: 100_000,
    dialect: 'both',
    requests: 30,
    realFiles: 3000,
    keep: false,
    out: path.join(REPO, 'bench/results'),
    ...options,
  };
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'archivist-bench-scale-'));
  const archive = o.archive ?? benchCacheDir(`scale-archive-${o.assets}`);
  generateArchive(archive, o.assets);
  const results = [];
  try {
    for (const dialect of o.dialect === 'both' ? ['sqlite', 'postgres'] : [o.dialect])
      results.push(await benchDialect(dialect, o, work, archive));
  } finally {
    if (!o.keep) fs.rmSync(work, { recursive: true, force: true });
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '').slice(0, 15);
  const dialects = o.dialect === 'both' ? '' : `-${o.dialect}`;
  const base = path.join(o.out, `scale-${o.assets}${dialects}-${stamp}Z`);
  fs.mkdirSync(o.out, { recursive: true });
  const doc = {
    bench: 'scale',
    command: `node scripts/bench/scale.mjs --assets ${o.assets} --dialect ${o.dialect} --requests ${o.requests}`,
    targets: TARGETS,
    machine: { cpus: os.cpus().length, memGb: Math.round(os.totalmem() / 2 ** 30) },
    results,
  };
  fs.writeFileSync(`${base}.json`, `${JSON.stringify(doc, null, 2)}\n`);
  fs.writeFileSync(
    `${base}.md`,
    `# Scale bench: ${o.assets.toLocaleString('en')} assets\n\n\`${doc.command}\`\n\n${resultsTable(results)}`,
  );
  log(`wrote ${base}.json and .md`);
  return doc;
}

export async function benchScaleCommand(argv) {
  const options = {};
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--keep') options.keep = true;
    else if (flag === '--archive') options.archive = path.resolve(argv[++i]);
    else if (flag === '--out') options.out = path.resolve(argv[++i]);
    else if (flag === '--dialect') options.dialect = argv[++i];
    else if (['--assets', '--scale'].includes(flag)) options.assets = Number(argv[++i]);
    else if (['--requests', '--real-files'].includes(flag))
      options[flag === '--requests' ? 'requests' : 'realFiles'] = Number(argv[++i]);
    else throw new Error(`unknown option ${flag}`);
  }
  await benchScale(options);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  await benchScaleCommand(process.argv.slice(2));
