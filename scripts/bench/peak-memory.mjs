/**
 * Peak worker memory on 50-megapixel pictures (PRODUCT section 7: under 400 MB). A `core` run over a
 * folder of 50 MP files only, in every layout that decodes differently: a baseline JPEG (libvips can
 * shrink it while decoding), a progressive JPEG (its coefficients are buffered whole), a PNG and a
 * deflate TIFF (no shrink-on-load: every pixel goes through). The peak comes from the run's own stats
 * (each worker's maxRSS when it exits), so it is exactly what a user's run reports.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { cli, log } from './lib.mjs';

const WIDTH = 8660;
const HEIGHT = 5774; // 50.0 MP, 3:2

async function writePictures(dir) {
  fs.mkdirSync(dir, { recursive: true });
  // Smooth noise blown up from a small tile: real-looking gradients that compress to camera-like sizes,
  // where full-resolution noise would make a 150 MB PNG.
  const tile = await sharp({
    create: {
      width: 866,
      height: 577,
      channels: 3,
      background: '#6a8',
      noise: { type: 'gaussian', mean: 128, sigma: 60 },
    },
  })
    .png()
    .toBuffer();
  const big = () => sharp(tile).resize(WIDTH, HEIGHT, { kernel: 'cubic' });
  const files = {
    'fifty-baseline.jpg': big().jpeg({ quality: 90 }),
    'fifty-progressive.jpg': big().jpeg({ quality: 90, progressive: true }),
    'fifty.png': big().png({ compressionLevel: 6 }),
    'fifty.tif': big().tiff({ compression: 'deflate' }),
  };
  for (const [name, pipeline] of Object.entries(files)) {
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) await pipeline.toFile(file);
  }
  return Object.keys(files);
}

/** Runs `core` over the 50 MP pictures in `home` (a source of its own) and returns the run's peak. */
export async function measurePeakMemory(home, work, workers) {
  const dir = path.join(work, 'fifty-megapixels');
  log('peak memory: writing 50 MP pictures');
  const names = await writePictures(dir);
  await cli(home, ['source', 'add', 'fifty', dir, '--json']);
  await cli(home, ['catalog', 'fifty', '--json']);
  await cli(home, ['collection', 'create', 'fifty', '--source', 'fifty', '--json']);
  log('peak memory: core run over them');
  const started = await cli(
    home,
    ['run', 'start', 'core', '--collection', 'fifty', '--workers', String(workers), '--force', '--json'],
    { allowFail: true },
  );
  const record = JSON.parse(started.stdout);
  return {
    files: names,
    megapixels: (WIDTH * HEIGHT) / 1e6,
    runId: record.id,
    status: record.status,
    counts: record.counts,
    workers,
    peakWorkerRssBytes: record.stats?.peakWorkerRssBytes ?? null,
  };
}
