/**
 * API latency at catalog scale (issue 7, PRODUCT section 7: progress and asset-list queries answer in under
 * 100 ms at 100,000 assets while a run is active).
 *
 *   npm run build && node scripts/bench/api-latency.mjs [--assets N] [--files F] [--requests R] [--keep]
 *     [--workers W] [--seed K] [--archive DIR (real files to process instead of generated ones)]
 *     [--cpu-prof DIR (profile of `serve`, written when it stops)]
 *
 * A fresh home catalogs a small real folder (generated JPEGs, or options.archive) so that a real `core`
 * run can process it, then gets synthetic catalog rows up to `assets` (written straight into SQLite, in the
 * tables and shapes the catalog writes, under a second source whose folder is empty). The run covers only
 * the real source; while it is active, `archivist serve` is asked for the run's progress and for asset
 * pages, sequentially, and each endpoint's latency (fetch to last body byte) is summarized.
 */
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { CLI, cli, log, makeRandom, median, sleep } from './lib.mjs';

const ACTIVE = new Set(['queued', 'running', 'cancelling']);

/** Distinct JPEGs (one noise picture, each with its own COM segment) that take real work to thumbnail. */
async function writeJpegs(dir, count) {
  const sharp = (await import('sharp')).default;
  const noise = { type: 'gaussian', mean: 120, sigma: 12 };
  const create = { width: 480, height: 360, channels: 3, background: '#777', noise };
  const base = await sharp({ create }).jpeg({ quality: 85 }).toBuffer();
  for (let i = 0; i < count; i++) {
    const text = Buffer.from(`archivist api-latency bench ${i}`);
    const com = Buffer.from([0xff, 0xfe, (text.length + 2) >> 8, (text.length + 2) & 0xff]);
    const file = path.join(dir, String(2015 + (i % 8)), `IMG_${String(i).padStart(4, '0')}.jpg`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, Buffer.concat([base.subarray(0, 2), com, text, base.subarray(2)]));
  }
  return dir;
}

const KINDS = [
  // [share, media type, mime, extension, name prefix, size range in bytes]
  [0.62, 'image', 'image/jpeg', 'JPG', 'IMG_', [1.5e6, 9e6]],
  [0.12, 'image', 'image/heic', 'HEIC', 'IMG_', [1e6, 4e6]],
  [0.06, 'image', 'image/x-nikon-nef', 'NEF', 'DSC_', [20e6, 40e6]],
  [0.03, 'image', 'image/png', 'PNG', 'Screenshot_', [2e5, 3e6]],
  [0.09, 'video', 'video/mp4', 'MP4', 'VID_', [5e6, 400e6]],
  [0.03, 'video', 'video/quicktime', 'MOV', 'IMG_', [5e6, 250e6]],
  [0.04, 'sidecar', 'application/rdf+xml', 'XMP', 'DSC_', [2e3, 2e4]],
  [0.01, 'other', null, 'pdf', 'scan_', [5e4, 2e6]],
];

/**
 * `count` synthetic assets with their locations, in the columns and shapes applyCatalogWrites writes:
 * sha256 ids, a realistic mix of media types and sizes, YEAR/YEAR-MM folders, one finished scan of the
 * synthetic source as every location's first scan. One transaction of prepared statements (a few seconds).
 */
export function insertSynthetic(dbFile, sourceId, count, seed) {
  const db = new Database(dbFile);
  const random = makeRandom(seed);
  const now = new Date().toISOString();
  const summary = JSON.stringify({ source: 'synthetic', scanned: count, new: count });
  const scanId = db
    .prepare('insert into scans (source_id, started_at, finished_at, summary_json) values (?, ?, ?, ?)')
    .run(sourceId, now, now, summary).lastInsertRowid;
  const asset = db.prepare(
    'insert into assets (id, size, media_type, mime, first_seen_at) values (@id, @size, @mediaType, @mime, @now)',
  );
  const location = db.prepare(
    `insert into locations (source_id, path, dir, asset_id, size, mtime_ns, ctime_ns, inode, status, first_seen_at,
       first_scan_id, last_seen_at, missing_since)
     values (@sourceId, @path, @dir, @id, @size, @mtimeNs, @mtimeNs, @inode, @status, @now, @scanId, @now, @missingSince)`,
  );
  // The listings' row (migration 0011), placed by the file time as the catalog places a new asset.
  const facts = db.prepare(
    `insert into asset_facts (asset_id, listed, media_type, file_mtime_ms, sort_ms, month)
     values (@id, 1, @mediaType, @mtimeMs, @mtimeMs, @month)`,
  );
  db.transaction(() => {
    for (let i = 0; i < count; i++) {
      let roll = random.float();
      const kind = KINDS.find(([share]) => (roll -= share) < 0) ?? KINDS[0];
      const [, mediaType, mime, ext, prefix, [min, max]] = kind;
      const id = createHash('sha256').update(`synthetic ${seed} ${i}`).digest('hex');
      const size = Math.round(min + random.float() * (max - min));
      asset.run({ id, size, mediaType, mime, now });
      const year = 2004 + (i % 21);
      const month = 1 + random.int(0, 11);
      const rel = `${year}/${year}-${String(month).padStart(2, '0')}/${prefix}${String(i).padStart(6, '0')}.${ext}`;
      const mtimeMs = Date.UTC(year, month - 1, random.int(1, 28));
      const mtimeNs = String(BigInt(mtimeMs) * 1_000_000n);
      facts.run({ id, mediaType, mtimeMs, month: `${year}-${String(month).padStart(2, '0')}` });
      // Two locations for 2 % (a copy under Backup/ is the same asset); 1 % of locations missing.
      for (const p of random.chance(0.02) ? [rel, `Backup/${rel}`] : [rel]) {
        const missingSince = random.chance(0.01) ? now : null;
        const status = missingSince ? 'missing' : 'present';
        const inode = String(random.next() * 1024 + i);
        const dir = p.slice(0, p.lastIndexOf('/'));
        location.run({ sourceId, path: p, dir, id, size, mtimeNs, inode, status, now, scanId, missingSince });
      }
    }
  })();
  db.close();
}

/** `archivist serve --port 0 --json`: resolves {child, url} once it printed where it listens. */
function startServe(home, nodeArgs = []) {
  const child = spawn(
    process.execPath,
    [...nodeArgs, CLI, '--home', home, 'serve', '--port', '0', '--json'],
    {
      env: { ...process.env, ARCHIVIST_HOME: '', CI: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
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

/** One GET, timed to its last body byte; a non-2xx answer is a broken measurement, not a slow one. */
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

export async function measureApiLatency(options = {}) {
  // 3000 small files keep a default-params `core` run (1 worker) busy for about 2 minutes on 2 loaded
  // cores, the measurement takes about 1: the run is still active at the end, then it is cancelled.
  const defaults = {
    assets: 100000,
    files: 3000,
    requests: 200,
    warmup: 5,
    workers: 1,
    seed: 1,
    keep: false,
  };
  const o = { ...defaults, ...options };
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'archivist-bench-api-'));
  const home = path.join(work, 'home');
  let serve;
  let reader;
  let runId = null;
  let status = () => undefined;
  try {
    await cli(home, ['init', '--json']);
    const archive = o.archive ?? (await writeJpegs(path.join(work, 'real'), o.files));
    await cli(home, ['source', 'add', 'real', archive, '--json']);
    await cli(home, ['catalog', '--json']);
    // The synthetic source is added after the catalog pass, whose folder stays empty: nothing re-scans it.
    fs.mkdirSync(path.join(work, 'synthetic'));
    await cli(home, ['source', 'add', 'synthetic', path.join(work, 'synthetic'), '--json']);
    const dbFile = path.join(home, 'archivist.db');
    reader = new Database(dbFile, { readonly: true });
    const real = reader.prepare('select count(*) as n from assets').get().n;
    const syntheticId = reader.prepare("select id from sources where name = 'synthetic'").get().id;
    let started = performance.now();
    insertSynthetic(dbFile, syntheticId, Math.max(0, o.assets - real), o.seed);
    log(`${real} real assets, synthetic up to ${o.assets} in ${Math.round(performance.now() - started)} ms`);
    const assets = reader.prepare('select count(*) as n from assets').get().n;

    // Only the real files are processed: the synthetic ones do not exist.
    await cli(home, ['collection', 'create', 'real', '--source', 'real', '--json']);
    const args = `run start core --collection real --workers ${o.workers} --detach --json`.split(' ');
    runId = JSON.parse((await cli(home, args)).stdout).id;
    const runStatus = reader.prepare('select status from runs where id = ?');
    status = () => runStatus.get(runId)?.status;
    serve = await startServe(home, o.serveNodeArgs);
    while (status() === 'queued') await sleep(50);

    // [path, sampled every Nth round]. The deep page shares the unfiltered listing's cache entry.
    const endpoints = {
      runProgress: [`/api/runs/${runId}`, 1],
      assetList: ['/api/assets', 1],
      assetListVideos: ['/api/assets?type=video', 1],
      assetListPathGlob: [`/api/assets?path=${encodeURIComponent('2013/*')}`, 1],
      assetListDeepPage: [`/api/assets?offset=${Math.floor(assets * 0.9)}`, 1],
      // Depends on the artifacts, which the run keeps adding: a NOT EXISTS probe of artifacts_kind_asset
      // per row read in listing order (docs/listings.md).
      assetListLacksThumbnail: ['/api/assets?lacks=thumbnail', 1],
      // The web grid's default: by capture time (asset_facts_time), which the run's metadata commits
      // keep up to date, and its month headers (one grouped query).
      assetListNewest: ['/api/assets?sort=newest', 1],
      assetTimeline: ['/api/assets/timeline?sort=newest', 1],
    };
    const get = async (p) => timedGet(new URL(p, serve.url));
    const samples = Object.fromEntries(Object.keys(endpoints).map((name) => [name, []]));
    const result = { assets, runId, runActiveThroughout: ACTIVE.has(status()), endpoints: {} };
    // The first request of each endpoint (cold for that query), then warm rounds.
    for (const [name, [p]] of Object.entries(endpoints)) {
      const first = await get(p);
      const total = JSON.parse(first.body).total;
      result.endpoints[name] = {
        path: p,
        coldMs: round(first.ms),
        ...(total === undefined ? {} : { total }),
      };
      for (let i = 0; i < o.warmup; i++) await get(p);
    }
    // Round-robin, so that every endpoint is sampled over the same stretch of the run.
    started = performance.now();
    for (let i = 0; i < o.requests; i++) {
      result.runActiveThroughout &&= ACTIVE.has(status());
      for (const [name, [p, every]] of Object.entries(endpoints))
        if (i % every === 0) samples[name].push((await get(p)).ms);
    }
    result.runActiveThroughout &&= ACTIVE.has(status());
    result.measureSeconds = round((performance.now() - started) / 1000);
    result.runStatusAfter = status();
    for (const [name, list] of Object.entries(samples)) {
      const sorted = [...list].sort((a, b) => a - b);
      Object.assign(result.endpoints[name], {
        requests: sorted.length,
        p50Ms: round(median(sorted)),
        p95Ms: round(percentile(sorted, 0.95)),
        maxMs: round(sorted.at(-1)),
      });
    }
    return result;
  } finally {
    if (serve) {
      serve.child.kill('SIGINT');
      if (serve.child.exitCode === null) await new Promise((resolve) => serve.child.once('close', resolve));
    }
    if (runId) {
      await cli(home, ['run', 'cancel', runId], { allowFail: true });
      // The coordinator is detached (not our child): wait until it has let go of the home.
      const until = performance.now() + 30_000;
      while (performance.now() < until && ACTIVE.has(status())) await sleep(200);
    }
    reader?.close();
    if (o.keep) log(`kept ${work}`);
    else fs.rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const options = {};
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--keep') options.keep = true;
    else if (flag === '--archive') options.archive = path.resolve(argv[++i]);
    else if (flag === '--cpu-prof') options.serveNodeArgs = ['--cpu-prof', `--cpu-prof-dir=${argv[++i]}`];
    else if (['--assets', '--files', '--requests', '--workers', '--seed'].includes(flag))
      options[flag.slice(2)] = Number(argv[++i]);
    else throw new Error(`unknown option ${flag}`);
  }
  process.stdout.write(`${JSON.stringify(await measureApiLatency(options), null, 2)}\n`);
}
