/**
 * Per-format thumbnail speed (issue 13, PRODUCT section 7): the `core` thumbnail step against the fastest
 * native tool on the same files with the same parallelism: `vipsthumbnail` for pictures, one `ffmpeg`
 * frame for videos. Camera-sized generated files: 12 MP JPEG, 12 MP HEIC (heif-enc, with a 320 px
 * thumbnail item as phones write), 12 MP PNG, 12 MP TIFF, a DNG with a 6 MP preview (RAW preview), and
 * 1080p H.264 clips. Ratios are CPU time and wall time of the work in each lane (the tools it runs
 * included, without Node's start-up, imports and tool-version detection, which a worker pays once) of
 * the step over the tool, and the wall time from starting the lanes to their end (start-up included);
 * peak RSS is the step's process at its highest, and the largest process of a lane, its tools included.
 *
 *   node scripts/bench/formats.mjs [--files N] [--workers N] [--only jpeg,heic,png,tiff,raw,video]
 *   (npm run build first)
 */
import { execFile, fork, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { childrenCpuMs, fmt, log } from './lib.mjs';

const execFileAsync = promisify(execFile);
const HERE = fileURLToPath(import.meta.url);
const DIST = path.resolve(path.dirname(HERE), '..', '..', 'dist');

function systemEnv() {
  const env = { ...process.env };
  delete env.VIPSHOME; // sharp's own: the system's vips would not find its modules
  return env;
}

async function camera(width, height, seed) {
  const tile = await sharp({
    create: {
      width: 400,
      height: 300,
      channels: 3,
      background: '#6a8',
      noise: { type: 'gaussian', mean: 128 + seed, sigma: 50 },
    },
  })
    .png()
    .toBuffer();
  return sharp(tile).resize(width, height, { kernel: 'cubic' });
}

const FORMATS = {
  jpeg: {
    ext: 'jpg',
    make: async (f, i) =>
      (await camera(4032, 3024, i)).jpeg({ quality: 90 }).withMetadata({ orientation: 6 }).toFile(f),
  },
  heic: {
    ext: 'heic',
    make: async (f, i) => {
      await (await camera(4032, 3024, i)).png({ compressionLevel: 1 }).toFile(`${f}.png`);
      await execFileAsync('heif-enc', ['-q', '50', '-t', '320', '-o', f, `${f}.png`], { env: systemEnv() });
      fs.rmSync(`${f}.png`);
    },
  },
  png: {
    ext: 'png',
    make: async (f, i) => (await camera(4032, 3024, i)).png({ compressionLevel: 6 }).toFile(f),
  },
  tiff: {
    ext: 'tif',
    make: async (f, i) => (await camera(4032, 3024, i)).tiff({ compression: 'lzw' }).toFile(f),
  },
  raw: {
    ext: 'dng',
    make: async (f, i) => {
      await sharp({ create: { width: 64, height: 48, channels: 3, background: '#808080' } })
        .tiff()
        .toFile(f);
      await (await camera(3000, 2000, i)).jpeg({ quality: 90 }).toFile(`${f}.jpg`);
      const { ExifTool } = await import('exiftool-vendored');
      const writer = new ExifTool({ maxProcs: 1 });
      await writer.write(f, {}, { writeArgs: ['-overwrite_original', `-PreviewImage<=${f}.jpg`] });
      await writer.end();
      fs.rmSync(`${f}.jpg`);
    },
  },
  video: {
    ext: 'mp4',
    make: (f, i) =>
      execFileAsync('ffmpeg', [
        '-v',
        'error',
        '-y',
        '-f',
        'lavfi',
        '-i',
        `testsrc2=size=1920x1080:rate=30:duration=${4 + i}`,
        '-c:v',
        'libx264',
        '-pix_fmt',
        'yuv420p',
        f,
      ]),
  },
};

/** One lane: thumbnails its share of the files, one after the other, the way one worker does. */
async function lane(mode, files) {
  const signal = new globalThis.AbortController().signal;
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'archivist-bench-lane-'));
  let failed = 0;
  // CPU of the work only, the lane's own and its tools': Node's start-up and the import of sharp and
  // the step (a fixed cost a worker pays once, not per picture) would otherwise count as the step's.
  let own = process.cpuUsage();
  let tools = childrenCpuMs();
  const workCpuMs = () => {
    const used = process.cpuUsage(own);
    return (used.user + used.system) / 1000 + (childrenCpuMs() - tools);
  };
  let endTools = async () => undefined;
  let exiftool;
  let workStarted = performance.now();
  if (mode === 'core') {
    const load = (rel) => import(pathToFileURL(path.join(DIST, rel)).href);
    const { thumbnailStep } = await load('pipeline/steps/thumbnail.js');
    ({ endTools } = await load('pipeline/tools/lifecycle.js'));
    // The step's tool version (sharp, `vipsthumbnail --vips-version`, `heif-info`, `ffmpeg -version`):
    // detected once when a worker starts, like the imports, not per picture.
    await thumbnailStep.tool.version();
    own = process.cpuUsage();
    tools = childrenCpuMs();
    workStarted = performance.now();
    for (const file of files) {
      const video = file.endsWith('.mp4');
      const outcome = await thumbnailStep.run({
        asset: {
          id: '',
          mediaType: video ? 'video' : 'image',
          mime: null,
          size: fs.statSync(file).size,
          file,
        },
        params: { size: 256, quality: 80, format: 'webp', position: 0.1 },
        inputs: [],
        signal,
        scratchDir: scratch,
      });
      if (outcome.status !== 'done') failed++;
    }
  } else {
    for (const file of files) {
      try {
        if (file.endsWith('.mp4')) {
          const { stdout } = await execFileAsync('ffprobe', [
            '-v',
            'error',
            '-show_entries',
            'format=duration',
            '-of',
            'csv=p=0',
            file,
          ]);
          const at = (Number(stdout) * 0.1).toFixed(3);
          await execFileAsync('ffmpeg', [
            '-v',
            'error',
            '-y',
            '-ss',
            at,
            '-i',
            file,
            '-frames:v',
            '1',
            '-vf',
            'scale=256:256:force_original_aspect_ratio=decrease',
            path.join(scratch, 'frame.webp'),
          ]);
        } else if (file.endsWith('.dng')) {
          // A RAW's thumbnail is its embedded preview: exiftool (resident, as in a worker) takes it
          // out, vipsthumbnail shrinks it.
          exiftool ??= new (await import('exiftool-vendored')).ExifTool({ maxProcs: 1 });
          const preview = path.join(scratch, 'preview.jpg');
          await exiftool.extractBinaryTag('PreviewImage', file, preview);
          await execFileAsync(
            'vipsthumbnail',
            [preview, '-s', '256x256>', '-o', path.join(scratch, 'tn.webp[Q=80]')],
            { env: systemEnv() },
          );
          fs.rmSync(preview);
        } else {
          await execFileAsync(
            'vipsthumbnail',
            [file, '-s', '256x256>', '-o', path.join(scratch, 'tn.webp[Q=80]')],
            { env: systemEnv() },
          );
        }
      } catch {
        failed++;
      }
    }
  }
  // Resident tools (exiftool) count once they have exited: a child's CPU is known when it is reaped.
  await endTools();
  await exiftool?.end();
  const cpuMs = workCpuMs();
  const workWallMs = performance.now() - workStarted;
  fs.rmSync(scratch, { recursive: true, force: true });
  const hwm = Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) * 1024;
  process.send({ failed, peakRssBytes: hwm, cpuMs, workWallMs });
}

/**
 * GNU time's %M is the child's ru_maxrss from wait4, which Linux takes over the child and every
 * descendant it reaped: the largest process of the lane, the lane's tools (vipsthumbnail, ffmpeg,
 * exiftool) included. VmHWM inside the lane sees only the lane's own process.
 */
const GNU_TIME = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : null;
const TREE_RSS_MARK = 'archivist-bench-tree-maxrss-kb=';

function startLane(mode, share) {
  const env = { ...process.env, VIPS_CONCURRENCY: '1' };
  const laneArgs = [HERE, '--lane', mode, JSON.stringify(share)];
  if (!GNU_TIME) return fork(HERE, laneArgs.slice(1), { env });
  // spawn with an IPC channel: time passes the channel's descriptor and NODE_CHANNEL_FD on to node.
  return spawn(GNU_TIME, ['-f', `${TREE_RSS_MARK}%M`, process.execPath, ...laneArgs], {
    env,
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
}

async function lanes(mode, files, workers) {
  const shares = Array.from({ length: workers }, (_, i) => files.filter((_, j) => j % workers === i));
  const started = performance.now();
  const results = await Promise.all(
    shares.map(
      (share) =>
        new Promise((resolve, reject) => {
          const child = startLane(mode, share);
          let answer = null;
          let stderr = '';
          child.stderr?.on('data', (chunk) => (stderr += chunk.toString()));
          child.on('message', (m) => (answer = m));
          child.on('close', (code) => {
            if (!answer) return reject(new Error(`lane exited ${code}: ${stderr}`));
            const tree = new RegExp(`${TREE_RSS_MARK}(\\d+)`).exec(stderr);
            resolve({ ...answer, treePeakRssBytes: tree ? Number(tree[1]) * 1024 : null });
          });
        }),
    ),
  );
  const wallMs = performance.now() - started;
  const cpuMs = results.reduce((sum, r) => sum + r.cpuMs, 0);
  // The lanes' work, from their first file to their last (the slowest lane ends it), without the
  // start-up of each lane that wallMs includes (3 files a lane make that a large share).
  const workWallMs = Math.max(...results.map((r) => r.workWallMs));
  const trees = results.map((r) => r.treePeakRssBytes);
  return {
    wallMs,
    workWallMs,
    cpuMs,
    failed: results.reduce((n, r) => n + r.failed, 0),
    peakRssBytes: Math.max(...results.map((r) => r.peakRssBytes)),
    treePeakRssBytes: trees.includes(null) ? null : Math.max(...trees),
  };
}

export async function measureFormats({ work, workers = 2, files = 6, only = null }) {
  const out = {};
  for (const [name, format] of Object.entries(FORMATS)) {
    if (only && !only.includes(name)) continue;
    const dir = path.join(work, `formats-${name}`);
    fs.mkdirSync(dir, { recursive: true });
    const list = [];
    for (let i = 0; i < files; i++) {
      const file = path.join(dir, `${name}-${i}.${format.ext}`);
      if (!fs.existsSync(file)) await format.make(file, i);
      list.push(file);
    }
    log(`formats: ${name} (${files} files, ${workers} lanes)`);
    // Tool first, then the step, then the tool again: the median of the two tool runs is the baseline.
    const toolA = await lanes('tool', list, workers);
    const core = await lanes('core', list, workers);
    const toolB = await lanes('tool', list, workers);
    const tool = toolA.workWallMs <= toolB.workWallMs ? toolA : toolB;
    out[name] = {
      files,
      coreWallMs: core.workWallMs,
      toolWallMs: tool.workWallMs,
      wallRatio: core.workWallMs / tool.workWallMs,
      startupWallRatio: core.wallMs / tool.wallMs,
      cpuRatio: core.cpuMs / tool.cpuMs,
      coreCpuMsPerFile: core.cpuMs / files,
      toolCpuMsPerFile: tool.cpuMs / files,
      coreFailed: core.failed,
      toolFailed: tool.failed,
      corePeakRssBytes: core.peakRssBytes,
      coreTreePeakRssBytes: core.treePeakRssBytes,
      toolTreePeakRssBytes: tool.treePeakRssBytes,
    };
  }
  return out;
}

export function formatsMarkdown(result) {
  const mib = (bytes) => (bytes === null || bytes === undefined ? 'n/a' : `${fmt(bytes / 1048576)} MiB`);
  const rows = Object.entries(result).map(
    ([name, r]) =>
      `| ${name} | ${r.files} | ${fmt(r.coreCpuMsPerFile)} | ${fmt(r.toolCpuMsPerFile)} | ${fmt(r.cpuRatio, 2)}× | ${fmt(r.wallRatio, 2)}× | ${fmt(r.startupWallRatio, 2)}× | ${mib(r.corePeakRssBytes)} | ${mib(r.coreTreePeakRssBytes)} | ${mib(r.toolTreePeakRssBytes)} | ${r.coreFailed}/${r.toolFailed} |`,
  );
  return [
    '| Format | Files | core CPU ms/file | tool CPU ms/file | CPU ratio | wall ratio (work) | wall ratio (lanes started and ended) | core peak RSS (step process) | core peak RSS (largest process, tools included) | tool peak RSS (largest process) | failed core/tool |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows,
  ].join('\n');
}

if (process.argv[2] === '--lane') {
  await lane(process.argv[3], JSON.parse(process.argv[4]));
} else if (process.argv[1] === HERE) {
  const args = process.argv.slice(2);
  const option = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'archivist-bench-formats-'));
  try {
    const result = await measureFormats({
      work,
      workers: option('--workers', 2),
      files: option('--files', 6),
      only: args.includes('--only') ? args[args.indexOf('--only') + 1].split(',') : null,
    });
    process.stdout.write(`${formatsMarkdown(result)}\n`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
