import fs from 'node:fs';
import path from 'node:path';
import { ExifTool } from 'exiftool-vendored';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerBuiltinPipelines } from '../../../src/pipeline/builtin.js';
import { findPipeline } from '../../../src/pipeline/registry.js';
import type { StepOutcome } from '../../../src/pipeline/step.js';
import { endTools } from '../../../src/pipeline/tools/lifecycle.js';
import { tempDir } from '../../helpers/cli.js';
import { fixture, metadataOf, outcomeOf } from './media-helpers.js';

/** How tags written into files become the normalized fields, and how unreadable files fail. */

let dir: string;
let cleanup: () => void;
const writer = new ExifTool({ maxProcs: 1 });

beforeAll(() => {
  ({ dir, cleanup } = tempDir('archivist-meta-'));
});
afterAll(async () => {
  await writer.end();
  await endTools();
  cleanup();
});

async function jpegWith(name: string, tags: Record<string, unknown>): Promise<string> {
  const file = path.join(dir, name);
  await sharp({ create: { width: 40, height: 30, channels: 3, background: '#336699' } })
    .jpeg()
    .toFile(file);
  if (Object.keys(tags).length > 0) {
    await writer.write(file, tags, { writeArgs: ['-overwrite_original'] });
  }
  return file;
}

describe('metadata: what the tags say, normalized', () => {
  it('wall clock + GPS: the zone from an offline lookup, DST included', async () => {
    const file = await jpegWith('nyc.jpg', {
      DateTimeOriginal: '2020:07:01 12:00:00',
      GPSLatitude: 40.7128,
      GPSLongitude: -74.006,
      GPSAltitude: 10,
    });
    const m = await metadataOf(file);
    expect(m).toMatchObject({ takenAt: '2020-07-01T12:00:00-04:00', timeZone: 'America/New_York' });
    expect(m.gps).toEqual({ latitude: 40.7128, longitude: -74.006, altitude: 10 });
  });

  it('GPS 0,0 is no position', async () => {
    const file = await jpegWith('nullisland.jpg', {
      DateTimeOriginal: '2020:01:01 08:00:00',
      GPSLatitude: 0,
      GPSLongitude: 0,
    });
    const m = await metadataOf(file);
    expect(m.gps).toBeNull();
    expect(m).toMatchObject({ takenAt: '2020-01-01T08:00:00Z', timeZone: null });
  });

  it('an offset tag places the wall clock; rating and keywords are read', async () => {
    const file = await jpegWith('offset.jpg', {
      DateTimeOriginal: '2019:12:31 23:59:59',
      SubSecTimeOriginal: '5',
      OffsetTimeOriginal: '+05:30',
      Rating: 4,
      Subject: ['holiday', 'beach'],
      Keywords: ['beach', 'family'],
    });
    const m = await metadataOf(file);
    expect(m).toMatchObject({
      takenAt: '2019-12-31T23:59:59.500+05:30',
      takenAtSource: 'SubSecDateTimeOriginal',
      timeZone: '+05:30',
      rating: 4,
    });
    expect([...m.keywords].sort()).toEqual(['beach', 'family', 'holiday']);
  });

  it('no date at all: the file mtime, source "mtime"', async () => {
    const file = await jpegWith('nodate.jpg', {});
    const when = new Date('2017-03-04T05:06:07Z');
    fs.utimesSync(file, when, when);
    const m = await metadataOf(file);
    expect(m).toMatchObject({
      takenAt: '2017-03-04T05:06:07Z',
      takenAtSource: 'mtime',
      timeZone: null,
      width: 40,
      height: 30,
    });
  });
});

describe('metadata: unreadable files fail with no-metadata', () => {
  it('a truncated MP4', async () => {
    const outcome = await outcomeOf(fixture('videos/damaged_truncated.mp4'), 'video');
    expect(outcome).toMatchObject({ status: 'failed', reason: 'no-metadata' });
    const failed = outcome as Extract<StepOutcome, { status: 'failed' }>;
    expect(failed.message).toMatch(/moov atom not found/);
    expect(failed.stderrTail).toMatch(/moov atom not found/);
  });

  it('random bytes, an empty file, and text named .jpg', async () => {
    const noise = path.join(dir, 'noise.jpg');
    fs.writeFileSync(noise, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)));
    expect(await outcomeOf(noise)).toMatchObject({
      status: 'failed',
      reason: 'no-metadata',
      message: 'exiftool: File format error',
    });
    const empty = path.join(dir, 'empty.jpg');
    fs.writeFileSync(empty, '');
    expect(await outcomeOf(empty)).toMatchObject({
      status: 'failed',
      reason: 'no-metadata',
      message: 'exiftool: File is empty',
    });
    const text = path.join(dir, 'notes.jpg');
    fs.writeFileSync(text, 'shopping list\n');
    const outcome = await outcomeOf(text);
    expect(outcome).toMatchObject({ status: 'failed', reason: 'no-metadata' });
    expect((outcome as { message: string }).message).toMatch(/not a media file: exiftool reads it as TXT/);
  });

  it('a JPEG cut short after its EXIF block still yields what is there (partial succeeds)', async () => {
    const whole = fs.readFileSync(fixture('jpg/gps/DSCN0010.jpg'));
    const file = path.join(dir, 'cut.jpg');
    fs.writeFileSync(file, whole.subarray(0, Math.floor(whole.length * 0.6)));
    const m = await metadataOf(file);
    expect(m).toMatchObject({ make: 'NIKON', takenAt: '2008-10-22T16:28:39+02:00' });
  });
});

describe('core@1', () => {
  it('is registered with its two steps, tools that report their versions, and default params', async () => {
    registerBuiltinPipelines();
    registerBuiltinPipelines(); // idempotent: CLI and workers both call it
    const core = findPipeline('core');
    expect(`${core.name}@${core.version}`).toBe('core@1');
    expect(core.steps.map((s) => [s.name, s.tool.name, s.artifactKind])).toEqual([
      ['metadata', 'exiftool', 'metadata'],
      ['thumbnail', 'sharp', 'thumbnail'],
    ]);
    expect(await core.steps[0]!.tool.version()).toMatch(/^\d+\.\d+ \+ ffprobe \S+$/);
    expect(await core.steps[1]!.tool.version()).toMatch(
      // Every decoder the step chooses between, the native HEIC path included (or named missing).
      /^\d+\.\d+\.\d+ \(libvips [\d.]+\) \+ (vipsthumbnail [\d.]+ \(libheif [\d.]+\)|vipsthumbnail missing) \+ ffmpeg \S+ \+ libheif-js [\d.]+ \+ exiftool [\d.]+$/,
    );
  });
});
