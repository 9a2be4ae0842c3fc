/**
 * Peak memory of one thumbnail per picture, per format and size (issue 13: every picture up to 100 MP
 * stays under 400 MB of worker RSS; beyond the pixel limit it fails `too-large`, never an OOM kill).
 * Each file is thumbnailed by the `core` thumbnail step in a fresh Node process, as a worker runs it; the
 * process reports its own peak RSS (VmHWM) and the peak of the tools it started (vipsthumbnail, ffmpeg:
 * RUSAGE_CHILDREN's maxrss, read through /usr/bin/time when it is installed).
 *
 *   node scripts/bench/format-memory.mjs [--dir DIR] [--only NAME]
 */
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { benchCacheDir } from './lib.mjs';

const execFileAsync = promisify(execFile);
const print = (line) => process.stdout.write(`${line}\n`);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const option = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);

async function system(command, argv) {
  const env = { ...process.env };
  delete env.VIPSHOME; // sharp's own; the system's vips would not find its modules
  await execFileAsync(command, argv, { env, maxBuffer: 1 << 26 });
}

/** Smooth noise blown up from a tile: camera-like content that compresses to camera-like sizes. */
async function big(width, height) {
  const tile = await sharp({
    create: {
      width: 600,
      height: 400,
      channels: 3,
      background: '#6a8',
      noise: { type: 'gaussian', mean: 128, sigma: 60 },
    },
  })
    .png()
    .toBuffer();
  return sharp(tile, { limitInputPixels: false }).resize(width, height, { kernel: 'cubic' });
}

const CASES = [
  ['jpeg-100mp-baseline.jpg', (f) => big(12240, 8160).then((i) => i.jpeg({ quality: 90 }).toFile(f))],
  [
    'jpeg-100mp-progressive.jpg',
    (f) => big(12240, 8160).then((i) => i.jpeg({ quality: 90, progressive: true }).toFile(f)),
  ],
  [
    'jpeg-192mp-progressive.jpg',
    (f) => big(16000, 12000).then((i) => i.jpeg({ quality: 85, progressive: true }).toFile(f)),
  ],
  [
    'png-100mp-interlaced.png',
    (f) => big(12240, 8160).then((i) => i.png({ progressive: true, compressionLevel: 1 }).toFile(f)),
  ],
  [
    'png-192mp-interlaced.png',
    (f) => big(16000, 12000).then((i) => i.png({ progressive: true, compressionLevel: 1 }).toFile(f)),
  ],
  [
    'tiff-100mp-deflate.tif',
    (f) => big(12240, 8160).then((i) => i.tiff({ compression: 'deflate' }).toFile(f)),
  ],
  ['webp-16k.webp', (f) => big(16383, 6100).then((i) => i.webp({ quality: 80 }).toFile(f))],
  [
    // Issue 13's bomb: a few kilobytes declaring 64 MP (a flat picture, HEVC-coded).
    'heic-64mp-flat.heic',
    async (f) => {
      await sharp({ create: { width: 8000, height: 8000, channels: 3, background: '#808080' } })
        .png({ compressionLevel: 1 })
        .toFile(`${f}.png`);
      await system('heif-enc', ['-q', '10', '-o', f, `${f}.png`]);
      fs.rmSync(`${f}.png`);
    },
  ],
  [
    'heic-48mp-camera.heic',
    async (f) => {
      await (await big(8064, 6048)).png({ compressionLevel: 1 }).toFile(`${f}.png`);
      await system('heif-enc', ['-q', '50', '-o', f, `${f}.png`]);
      fs.rmSync(`${f}.png`);
    },
  ],
];

/** The measuring child: one thumbnail step on one file, then its own peak RSS. */
const CHILD = `
import fs from 'node:fs';
import { createHash } from 'node:crypto';
const [file, root, scratch] = process.argv.slice(1);
const { thumbnailStep } = await import(root + '/dist/pipeline/steps/thumbnail.js');
const { configureTools, endTools } = await import(root + '/dist/pipeline/tools/lifecycle.js');
configureTools(process.env.NATIVE === '0' ? { vipsthumbnail: false } : {});
const size = fs.statSync(file).size;
const started = Date.now();
const outcome = await thumbnailStep.run({
  asset: { id: '', mediaType: 'image', mime: null, size, file },
  params: { size: 256, quality: 80, format: 'webp', position: 0.1 },
  inputs: [], signal: new globalThis.AbortController().signal, scratchDir: scratch,
});
const hwm = Number(/VmHWM:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
await endTools();
console.log(JSON.stringify({ status: outcome.status, reason: outcome.reason, message: outcome.message, decoder: outcome.decoder, ms: Date.now() - started, workerPeakBytes: hwm }));
`;

const dir = option('--dir') ?? benchCacheDir('format-memory');
fs.mkdirSync(dir, { recursive: true });
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'archivist-fm-scratch-'));
const haveTime = fs.existsSync('/usr/bin/time');
const mib = (bytes) => `${(bytes / 1048576).toFixed(0)} MiB`;
for (const [name, make] of CASES) {
  if (option('--only') && !name.includes(option('--only'))) continue;
  const file = path.join(dir, name);
  if (!fs.existsSync(file)) {
    process.stderr.write(`making ${name}\n`);
    await make(file);
  }
  for (const native of process.env.BOTH ? ['1', '0'] : ['1']) {
    const argv = ['--input-type=module', '-e', CHILD, file, ROOT, scratch];
    const run = haveTime
      ? spawnSync('/usr/bin/time', ['-f', 'TREE_MAX_KB %M', process.execPath, ...argv], {
          encoding: 'utf8',
          env: { ...process.env, NATIVE: native },
        })
      : spawnSync(process.execPath, argv, { encoding: 'utf8', env: { ...process.env, NATIVE: native } });
    const line = run.stdout.trim().split('\n').at(-1) ?? '';
    let result;
    try {
      result = JSON.parse(line);
    } catch {
      print(`${name}: the worker died (${run.signal ?? `exit ${run.status}`}) ${run.stderr.slice(-300)}`);
      continue;
    }
    const tree = /TREE_MAX_KB (\d+)/.exec(run.stderr);
    print(
      [
        name.padEnd(30),
        `${(fs.statSync(file).size / 1048576).toFixed(1)} MB`.padStart(9),
        native === '1' ? 'native' : 'wasm  ',
        `worker ${mib(result.workerPeakBytes)}`.padEnd(14),
        tree ? `largest process ${mib(Number(tree[1]) * 1024)}`.padEnd(24) : '',
        `${result.ms} ms`.padStart(8),
        result.status === 'done' ? result.decoder : `${result.reason}: ${result.message}`,
      ].join('  '),
    );
  }
}
fs.rmSync(scratch, { recursive: true, force: true });
