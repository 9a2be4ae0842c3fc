import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endTools } from '../../../src/pipeline/tools/lifecycle.js';
import { tempDir } from '../../helpers/cli.js';
import { ffmpeg, fixture, metadataOf } from './media-helpers.js';

/** Metadata of real camera, phone and video files, checked against what they really contain. */

let dir: string;
let cleanup: () => void;

beforeAll(() => {
  ({ dir, cleanup } = tempDir('archivist-meta-'));
});
afterAll(async () => {
  await endTools();
  cleanup();
});

const IMAGE_FIELDS = [
  'takenAt',
  'takenAtSource',
  'timeZone',
  'width',
  'height',
  'orientation',
  'make',
  'model',
  'lens',
  'exposureTime',
  'fNumber',
  'focalLength',
  'iso',
  'gps',
  'rating',
  'keywords',
  'mimeType',
  'raw',
];
const VIDEO_FIELDS = [...IMAGE_FIELDS, 'durationSec', 'container', 'video', 'audio'];

describe('metadata: real camera and phone files', () => {
  it('a GPS-tagged Nikon JPEG: wall clock placed in the zone of where it was taken', async () => {
    const m = await metadataOf(fixture('jpg/gps/DSCN0010.jpg'));
    expect(Object.keys(m).sort()).toEqual([...IMAGE_FIELDS].sort());
    expect(m).toMatchObject({
      takenAt: '2008-10-22T16:28:39+02:00',
      takenAtSource: 'DateTimeOriginal',
      timeZone: 'Europe/Rome',
      width: 640,
      height: 480,
      orientation: 1,
      make: 'NIKON',
      model: 'COOLPIX P6000',
      fNumber: 5.9,
      focalLength: 24,
      iso: 64,
      mimeType: 'image/jpeg',
      keywords: [],
    });
    expect(m.exposureTime).toBeCloseTo(1 / 75, 5);
    expect(m.gps!.latitude).toBeCloseTo(43.46745, 4);
    expect(m.gps!.longitude).toBeCloseTo(11.88513, 4);
    // The raw tool output is kept, without where the file happened to lie.
    expect(m.raw.exiftool['EXIF:Model']).toBe('COOLPIX P6000');
    expect(m.raw.exiftool).not.toHaveProperty('SourceFile');
    expect(m.raw.exiftool).not.toHaveProperty('File:Directory');
  });

  it('a Canon JPEG without zone or position: the wall clock in UTC notation, zone unknown, empty GPS is null', async () => {
    const m = await metadataOf(fixture('jpg/Canon_40D.jpg'));
    expect(m).toMatchObject({
      takenAt: '2008-05-30T15:56:01Z',
      takenAtSource: 'SubSecDateTimeOriginal',
      timeZone: null,
      make: 'Canon',
      model: 'Canon EOS 40D',
      exposureTime: 0.00625,
      fNumber: 7.1,
      focalLength: 135,
      iso: 100,
      gps: null,
    });
  });

  it('orientation 6: width and height as displayed', async () => {
    const m = await metadataOf(fixture('jpg/orientation/portrait_6.jpg'));
    expect([m.orientation, m.width, m.height]).toEqual([6, 450, 600]);
  });

  it('an iPhone HEIC: sub-seconds and offset kept, the zone named from GPS when it agrees', async () => {
    const m = await metadataOf(fixture('heic/IMG_5195.HEIC'));
    expect(m).toMatchObject({
      takenAt: '2021-04-11T15:47:53.054-05:00',
      takenAtSource: 'SubSecDateTimeOriginal',
      timeZone: 'America/Chicago',
      width: 2566,
      height: 3313,
      make: 'Apple',
      model: 'iPhone 11 Pro Max',
      lens: 'iPhone 11 Pro Max back triple camera 4.25mm f/1.8',
      fNumber: 1.8,
      iso: 32,
      mimeType: 'image/heic',
    });
    expect(m.gps!.latitude).toBeCloseTo(39.05134, 4);
    expect(m.gps!.longitude).toBeCloseTo(-94.28877, 4);
  });

  it('an iPhone HEIC with a rotation: displayed portrait, the offset as the zone without GPS', async () => {
    const m = await metadataOf(fixture('heic/iphone_13_pro_max.HEIC'));
    expect(m).toMatchObject({
      takenAt: '2022-02-16T12:55:41.762+01:00',
      timeZone: '+01:00',
      width: 3024,
      height: 4032,
      orientation: 6,
      gps: null,
    });
  });

  it('an Android MP4: QuickTime CreateDate is UTC, shown in the zone of its GPS position', async () => {
    const m = await metadataOf(fixture('videos/landscape_h264.mp4'), 'video');
    expect(Object.keys(m).sort()).toEqual([...VIDEO_FIELDS].sort());
    expect(m).toMatchObject({
      takenAt: '2016-08-21T02:45:10+09:00',
      takenAtSource: 'CreateDate',
      timeZone: 'Asia/Tokyo',
      width: 1920,
      height: 1080,
      make: 'samsung',
      model: 'SM-G930F',
      durationSec: 3,
      container: 'mp4',
      video: { codec: 'h264', width: 1920, height: 1080, fps: 30, rotation: 0 },
      audio: { codec: 'aac', channels: 1, sampleRate: 48000 },
      gps: { latitude: 35.6586, longitude: 139.7454, altitude: 40 },
    });
    expect(m.video!.bitRate).toBeGreaterThan(1_000_000);
    expect(m.raw.ffprobe).toBeTruthy();
  });

  it('an iPhone MOV: CreationDate with its offset wins, rotation 90 makes it portrait', async () => {
    const m = await metadataOf(fixture('videos/portrait_hevc.mov'), 'video');
    expect(m).toMatchObject({
      takenAt: '2022-12-24T19:30:00+01:00',
      takenAtSource: 'CreationDate',
      timeZone: 'Europe/Berlin',
      width: 720,
      height: 1280,
      make: 'Apple',
      model: 'iPhone 14',
      container: 'mov',
      video: { codec: 'hevc', width: 1280, height: 720, rotation: 90 },
      gps: { latitude: 52.52, longitude: 13.405, altitude: 34 },
    });
  });

  it('a video without audio or zone: audio null, QuickTime UTC in Z notation', async () => {
    const file = path.join(dir, 'silent.mp4');
    await ffmpeg(
      '-f lavfi -i color=c=gray:s=64x48:d=1:r=5 -pix_fmt yuv420p -metadata creation_time=2019-05-01T10:00:00Z',
      file,
    );
    const m = await metadataOf(file, 'video');
    expect(m).toMatchObject({
      takenAt: '2019-05-01T10:00:00Z',
      takenAtSource: 'CreateDate',
      timeZone: null,
      audio: null,
    });
    expect(m.durationSec).toBeCloseTo(1, 1);
  });
});
