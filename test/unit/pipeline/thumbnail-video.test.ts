import path from 'node:path';
import { ExifTool } from 'exiftool-vendored';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { StepOutcome } from '../../../src/pipeline/step.js';
import { metadataStep } from '../../../src/pipeline/steps/metadata.js';
import type { NormalizedMetadata } from '../../../src/pipeline/steps/normalize-metadata.js';
import { thumbnailStep } from '../../../src/pipeline/steps/thumbnail.js';
import { candidateTimes } from '../../../src/pipeline/steps/video-frame.js';
import { ffInput, runFfTool } from '../../../src/pipeline/tools/ffmpeg-run.js';
import { configureTools, endTools } from '../../../src/pipeline/tools/lifecycle.js';
import { ToolError } from '../../../src/pipeline/tools/tool.js';
import { tempDir } from '../../helpers/cli.js';
import { colourAt, context, ffmpeg, fixture, THUMBNAIL_DEFAULTS } from './media-helpers.js';

let dir: string;
let cleanup: () => void;
const writer = new ExifTool({ maxProcs: 1 });

beforeAll(() => {
  ({ dir, cleanup } = tempDir('archivist-video-'));
});
afterEach(() => configureTools({}));
afterAll(async () => {
  await writer.end();
  await endTools();
  cleanup();
});

function run(file: string, params: Partial<typeof THUMBNAIL_DEFAULTS> = {}, signal?: AbortSignal) {
  return thumbnailStep.run(context(file, 'video', { ...THUMBNAIL_DEFAULTS, ...params }, { signal }));
}

function bytesOf(outcome: StepOutcome): Buffer {
  if (outcome.status !== 'done' || !outcome.output?.bytes) throw new Error(JSON.stringify(outcome));
  return outcome.output.bytes;
}

/** A 4 s 320x240 clip whose left half is red and right half blue (stored landscape). */
async function leftRedRightBlue(file: string): Promise<void> {
  await ffmpeg(
    '-f lavfi -i color=c=red:s=160x240:d=4:r=10 -f lavfi -i color=c=blue:s=160x240:d=4:r=10 -filter_complex [0:v][1:v]hstack=inputs=2,format=yuv420p[v] -map [v] -c:v libx264 -preset ultrafast',
    file,
  );
}

describe('thumbnail: video', () => {
  it('takes a landscape frame from the H.264 sample', async () => {
    const meta = await sharp(bytesOf(await run(fixture('videos/landscape_h264.mp4')))).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['webp', 256, 144]);
  });

  it('turns a portrait phone video (HEVC, 90° display matrix) into a portrait thumbnail', async () => {
    const meta = await sharp(bytesOf(await run(fixture('videos/portrait_hevc.mov')))).metadata();
    expect([meta.width, meta.height]).toEqual([144, 256]);
  });

  it('applies the rotation clockwise: the stored left edge becomes the top', async () => {
    const file = path.join(dir, 'rotated.mp4');
    await leftRedRightBlue(file);
    // A phone held upright stores a landscape picture and a 90° clockwise display rotation.
    await writer.write(file, { Rotation: 90 }, { writeArgs: ['-overwrite_original'] });
    const thumb = bytesOf(await run(file));
    const meta = await sharp(thumb).metadata();
    expect([meta.width, meta.height]).toEqual([192, 256]);
    expect(await colourAt(thumb, 0.5, 0.2)).toBe('red');
    expect(await colourAt(thumb, 0.5, 0.8)).toBe('blue');

    await writer.write(file, { Rotation: 270 }, { writeArgs: ['-overwrite_original'] });
    const turned = bytesOf(await run(file));
    expect(await colourAt(turned, 0.5, 0.2)).toBe('blue');
    expect(await colourAt(turned, 0.5, 0.8)).toBe('red');
  });

  it('skips a black opening for a frame with something in it', async () => {
    const file = path.join(dir, 'fade-in.mp4');
    // Red, but black until 1.2 s: the 10% position (0.5 s) is black.
    await ffmpeg(
      '-f lavfi -i color=c=red:s=160x120:d=5:r=10 -vf fade=t=in:st=1.2:d=0.1,format=yuv420p -c:v libx264 -preset ultrafast',
      file,
    );
    const thumb = bytesOf(await run(file));
    expect(await colourAt(thumb, 0.5, 0.5)).toBe('red');
    // Asked for a later position, it takes that one directly.
    expect(await colourAt(bytesOf(await run(file, { position: 0.8 })), 0.5, 0.5)).toBe('red');
  });

  it('gives a black frame when the whole video is black, rather than failing', async () => {
    const file = path.join(dir, 'black.mp4');
    await ffmpeg('-f lavfi -i color=c=black:s=160x120:d=2:r=10 -pix_fmt yuv420p', file);
    expect(await colourAt(bytesOf(await run(file)), 0.5, 0.5)).toBe('black');
  });

  it('tries positions near the asked one, inside the video', () => {
    expect(candidateTimes(100, 0.1)).toEqual([10, 15, 5, 20, 0]);
    expect(candidateTimes(2, 1)[0]).toBeCloseTo(1.95);
    expect(candidateTimes(null, 0.1)).toEqual([0, 1, 2, 4]);
    for (const t of candidateTimes(3, 0.5)) expect(t).toBeGreaterThanOrEqual(0);
  });
});

describe('video containers of a real archive', () => {
  it.each([
    ['mkv', 'libx264', 'aac', 'h264'],
    ['webm', 'libvpx-vp9', 'libopus', 'vp9'],
    ['avi', 'mpeg4', 'libmp3lame', 'mpeg4'],
    ['mts', 'mpeg2video', 'mp2', 'mpeg2video'],
    ['m4v', 'libx264', 'aac', 'h264'],
    ['3gp', 'h263', 'aac', 'h263'],
  ])('%s: metadata from ffprobe and a thumbnail', async (extension, videoCodec, audioCodec, codec) => {
    const file = path.join(dir, `clip.${extension}`);
    await ffmpeg(
      `-f lavfi -i testsrc=s=352x288:d=2:r=25 -f lavfi -i sine=d=2 -c:v ${videoCodec} -c:a ${audioCodec} -ar 48000 -shortest`,
      file,
    );
    const meta = await metadataStep.run(context(file, 'video', {}));
    if (meta.status !== 'done' || !meta.output?.bytes) throw new Error(JSON.stringify(meta));
    const m = JSON.parse(meta.output.bytes.toString('utf8')) as NormalizedMetadata;
    expect(m).toMatchObject({
      width: 352,
      height: 288,
      video: { codec, width: 352, height: 288, fps: 25, rotation: 0 },
    });
    expect(m.audio).toMatchObject({ channels: 1, sampleRate: 48000 });
    expect(m.durationSec).toBeGreaterThan(1.9);
    expect(m.durationSec).toBeLessThan(2.2);

    const thumb = await sharp(bytesOf(await run(file))).metadata();
    expect([thumb.width, thumb.height]).toEqual([256, 209]);
  });
});

describe('thumbnail: video failures', () => {
  it('a truncated MP4: decode-error with ffmpeg’s verdict in one line and its stderr tail', async () => {
    const outcome = await run(fixture('videos/damaged_truncated.mp4'));
    expect(outcome).toMatchObject({ status: 'failed', reason: 'decode-error' });
    const failed = outcome as Extract<StepOutcome, { status: 'failed' }>;
    expect(failed.message).toMatch(/Invalid data found when processing input \(moov atom not found\)/);
    expect(failed.message).not.toContain('damaged_truncated');
    expect(failed.stderrTail).toContain('moov atom not found');
    // ffmpeg read the original over a one-off loopback URL (descriptor-http.ts): meaningless to a person.
    expect(failed.stderrTail).not.toMatch(/127\.0\.0\.1|http:/);
    expect(failed.stderrTail).toContain('original:');
  });

  it('an audio-only file: unsupported-format, no video stream', async () => {
    const file = path.join(dir, 'voice.mp4');
    await ffmpeg('-f lavfi -i sine=frequency=440:duration=1 -c:a aac', file);
    expect(await run(file)).toMatchObject({
      status: 'failed',
      reason: 'unsupported-format',
      message: 'the file has no video stream',
    });
  });

  it('a configured ffmpeg that does not exist: tool-missing, not retried', async () => {
    configureTools({ ffmpeg: path.join(dir, 'no-such-ffmpeg') });
    const outcome = await run(fixture('videos/landscape_h264.mp4'));
    expect(outcome).toMatchObject({ status: 'failed', reason: 'tool-missing', retryable: false });
    expect((outcome as { message: string }).message).toMatch(/no-such-ffmpeg.*does not exist/);
  });

  it('kills ffmpeg at once when the signal fires (cancel or timeout)', async () => {
    const abort = new AbortController();
    const started = Date.now();
    // A clip looped for ever at its own pace: only the signal can end it.
    const input = ffInput(fixture('videos/landscape_h264.mp4'));
    const running = runFfTool(
      'ffmpeg',
      ['-v', 'error', '-re', '-stream_loop', '-1', '-i', input, '-f', 'null', '-'],
      { signal: abort.signal, input },
    );
    setTimeout(() => abort.abort(new Error('timeout')), 300);
    const error = await running.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ToolError);
    expect((error as ToolError).kind).toBe('aborted');
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
