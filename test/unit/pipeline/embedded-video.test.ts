import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { findEmbeddedVideo } from '../../../src/pipeline/steps/embedded-video.js';

describe('the video inside a motion photo', () => {
  it('finds a real MP4 appended to a JPEG, and nothing in a plain JPEG', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'archivist-motion-'));
    try {
      const clip = path.join(dir, 'clip.mp4');
      execFileSync('ffmpeg', [
        '-v',
        'error',
        '-f',
        'lavfi',
        '-i',
        'testsrc=size=64x48:rate=5',
        '-t',
        '1',
        clip,
      ]);
      const mp4 = fs.readFileSync(clip);
      const jpeg = await sharp({ create: { width: 40, height: 30, channels: 3, background: 'red' } })
        .jpeg()
        .toBuffer();
      expect(await findEmbeddedVideo(jpeg)).toBeNull();
      const found = await findEmbeddedVideo(Buffer.concat([jpeg, mp4]));
      expect(found).toEqual({ start: jpeg.length, length: mp4.length, brand: 'isom' });
      // A stray `ftyp` whose boxes do not run to the end is not a video.
      const stray = Buffer.concat([jpeg, mp4.subarray(0, 40), Buffer.from('tail')]);
      expect(await findEmbeddedVideo(stray)).toBeNull();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
