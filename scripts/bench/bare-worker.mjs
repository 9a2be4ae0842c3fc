/**
 * One process of the "bare loop": the tools the `core@1` steps call, in the same order, with no
 * bookkeeping (no database, no artifact store, no lineage). Forked by suite.mjs with the environment a
 * run's worker gets (VIPS_CONCURRENCY, UV_THREADPOOL_SIZE); asks the parent for the next asset over IPC
 * so the two processes share the queue the way the run's workers do.
 *
 * Per asset: metadata = exiftool read (the persistent exiftool-vendored process) + ffprobe for videos;
 * thumbnail = sharp decode/orient/resize/webp for pictures, the system's vipsthumbnail for HEIC (the WASM
 * HEIF decoder when it is missing), or the ffmpeg frame (with its black-frame check) + sharp for videos. The tool ports are the built
 * ones in dist/pipeline/tools, so the calls are byte-for-byte the pipeline's.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { pathToFileURL } from 'node:url';

const dist = process.argv[2];
const load = (rel) => import(pathToFileURL(path.join(dist, rel)).href);
const { readTags, endExiftool } = await load('pipeline/tools/exiftool-tool.js');
const { probeMedia } = await load('pipeline/tools/ffprobe.js');
const { renderThumbnail } = await load('pipeline/tools/sharp-tool.js');
const { decodeHeif } = await load('pipeline/tools/heif-tool.js');
const { nativeThumbnail, nativeVips } = await load('pipeline/tools/vips-cli.js');
const native = await nativeVips();
const scratch = os.tmpdir();
const { videoFrame } = await load('pipeline/steps/video-frame.js');

const options = { size: 256, quality: 80, format: 'webp' };
const signal = new globalThis.AbortController().signal;
let done = 0;
let failed = 0;
let bytes = 0;

async function one(asset) {
  // metadata
  try {
    await readTags(asset.file, signal);
    if (asset.mediaType === 'video') await probeMedia(asset.file, signal).catch(() => null);
    done++;
  } catch {
    failed++;
  }
  // thumbnail
  try {
    let rendered;
    if (asset.mediaType === 'video') {
      const frame = await videoFrame({ source: asset.file, position: 0.1, size: options.size, signal });
      rendered = await renderThumbnail({ buffer: frame.png }, options);
    } else if (native && /\.(heic|heif)$/i.test(asset.file)) {
      const fd = fs.openSync(asset.file, 'r');
      try {
        const png = await nativeThumbnail({ fd, size: options.size, signal, cwd: scratch });
        rendered = await renderThumbnail({ buffer: png }, options);
      } finally {
        fs.closeSync(fd);
      }
    } else {
      try {
        rendered = await renderThumbnail({ file: asset.file }, options);
      } catch (error) {
        if (!/\.(heic|heif)$/i.test(asset.file) && !/heif/i.test(String(error?.message))) throw error;
        const picture = await decodeHeif(fs.readFileSync(asset.file), signal);
        rendered = await renderThumbnail({ raw: picture }, { ...options, orientation: 1 });
      }
    }
    bytes += rendered.data.length;
    done++;
  } catch {
    failed++;
  }
}

process.on('message', async (message) => {
  if (message.type === 'asset') {
    await one(message.asset);
    process.send({ type: 'next' });
  } else if (message.type === 'stop') {
    await endExiftool();
    process.send({ type: 'stats', done, failed, bytes, rss: process.resourceUsage().maxRSS * 1024 });
    process.disconnect();
  }
});
process.send({ type: 'next' });
