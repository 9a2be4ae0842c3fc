import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { OriginalFile } from '../../../src/catalog/original-file.js';
import { motionVideoStep } from '../../../src/pipeline/steps/motion-video.js';

/**
 * `motion-video` on a motion photo larger than the old 128 MB cap, made here: a JPEG followed by a real
 * MP4 (ffmpeg) followed by a `free` box of 140 MB, as long as a long clip would be. The step finds the video and copies
 * it through the read-only descriptor a window at a time: it never reads the whole original, no single
 * read is larger than a megabyte and a few bytes, and what it wrote is byte for byte the file's tail,
 * which ffprobe reads as a video.
 */

const PADDING = 140 * 1024 * 1024;

let dir: string;
let photo: string;
let jpegLength: number;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'archivist-motion-stream-'));
  const clip = path.join(dir, 'clip.mp4');
  execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=5', '-t', '1', clip]);
  const mp4 = fs.readFileSync(clip);
  expect(mp4.toString('latin1', 4, 8)).toBe('ftyp');
  const jpeg = await sharp({ create: { width: 40, height: 30, channels: 3, background: 'blue' } })
    .jpeg()
    .toBuffer();
  jpegLength = jpeg.length;
  photo = path.join(dir, 'PXL_big.MP.jpg');
  // The MP4, then a free box of PADDING zero bytes (written a megabyte at a time): the video's own
  // chunk offsets stay right, and its top-level boxes still run to the end of the file.
  const fd = fs.openSync(photo, 'w');
  fs.writeSync(fd, jpeg);
  fs.writeSync(fd, mp4);
  const freeHeader = Buffer.alloc(8);
  freeHeader.writeUInt32BE(8 + PADDING, 0);
  freeHeader.write('free', 4, 'latin1');
  fs.writeSync(fd, freeHeader);
  const zeros = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < PADDING / zeros.length; i++) fs.writeSync(fd, zeros);
  fs.closeSync(fd);
}, 120_000);

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function sha256Of(file: string, start = 0): string {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const chunk = Buffer.alloc(1024 * 1024);
  try {
    for (let at = start; ;) {
      const n = fs.readSync(fd, chunk, 0, chunk.length, at);
      if (n === 0) break;
      hash.update(chunk.subarray(0, n));
      at += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

describe('motion-video streams the embedded MP4 out of a large motion photo', () => {
  it('extracts a video past the old 128 MB cap with reads of at most a window', async () => {
    const size = fs.statSync(photo).size;
    expect(size).toBeGreaterThan(128 * 1024 * 1024);
    const whole = vi.spyOn(OriginalFile.prototype, 'read');
    const ranges = vi.spyOn(OriginalFile.prototype, 'readAt');
    const scratchDir = fs.mkdtempSync(path.join(dir, 'scratch-'));
    try {
      const outcome = await motionVideoStep.run({
        asset: {
          id: 'f'.repeat(64),
          mediaType: 'image',
          mime: 'image/jpeg',
          size,
          file: photo,
        },
        params: {},
        inputs: [],
        sidecars: [],
        signal: new AbortController().signal,
        scratchDir,
      });
      expect(outcome.status, JSON.stringify(outcome)).toBe('done');
      if (outcome.status !== 'done') return;
      expect(outcome.decoder).toBe(
        `embedded MP4 (brand isom) at byte ${jpegLength}, ${size - jpegLength} bytes`,
      );
      const file = outcome.output!.file!;
      expect(outcome.output!.bytes).toBeUndefined();
      expect(fs.statSync(file).size).toBe(size - jpegLength);
      expect(sha256Of(file)).toBe(sha256Of(photo, jpegLength));
      const probe = JSON.parse(
        execFileSync('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', file], { encoding: 'utf8' }),
      ) as { streams: { codec_type: string }[] };
      expect(probe.streams.map((s) => s.codec_type)).toContain('video');
      // Never the whole original in memory; each read at most a window and its 16 bytes of margin.
      expect(whole).not.toHaveBeenCalled();
      const largest = Math.max(...ranges.mock.calls.map(([, length]) => length));
      expect(largest).toBeLessThanOrEqual(1024 * 1024 + 16);
    } finally {
      whole.mockRestore();
      ranges.mockRestore();
    }
  }, 120_000);
});
