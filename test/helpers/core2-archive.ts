import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { REPO_ROOT } from './cli.js';
import { tiffRaw } from './raw-files.js';

/**
 * The archive of issue 15's "done when", made in the test: an XMP sidecar written by exiftool, a Google
 * Takeout export (with the `(1)` and cut-name variants), an iPhone Live Photo (the real fixture HEIC and
 * a video made with its content identifier) and a second pair known only by name and time, a RAW+JPEG
 * pair, a motion photo (a JPEG with an MP4 appended, Google's MicroVideo tags), a QuickTime video with
 * GPS, and a camera JPEG with no zone. Every name is listed in CORE2_FILES.
 */

const EXIFTOOL = path.join(REPO_ROOT, 'node_modules', 'exiftool-vendored.pl', 'bin', 'exiftool');
const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'media');

export function exiftool(args: readonly string[]): string {
  return execFileSync('perl', [EXIFTOOL, '-q', '-q', ...args], { encoding: 'utf8' });
}

function ffmpeg(args: readonly string[]): void {
  execFileSync('ffmpeg', ['-v', 'error', '-y', ...args]);
}

/** A one-second H.264 clip with the given QuickTime metadata. */
function video(file: string, metadata: Record<string, string>): void {
  ffmpeg([
    '-f',
    'lavfi',
    '-i',
    'testsrc=size=160x120:rate=10',
    '-t',
    '1',
    '-c:v',
    'libx264',
    '-pix_fmt',
    'yuv420p',
    ...Object.entries(metadata).flatMap(([k, v]) => ['-metadata', `${k}=${v}`]),
    '-movflags',
    'use_metadata_tags',
    file,
  ]);
}

async function jpeg(seed: number, width = 320, height = 240): Promise<Buffer> {
  return sharp({
    create: { width, height, channels: 3, background: { r: (seed * 53) % 256, g: (seed * 97) % 256, b: 90 } },
  })
    .jpeg({ quality: 85 })
    .toBuffer();
}

export const CORE2_FILES = {
  zonelessJpeg: 'camera/IMG_0001.JPG',
  xmpJpeg: 'lightroom/DSC_0002.JPG',
  xmpSidecar: 'lightroom/DSC_0002.JPG.xmp',
  takeoutPhoto: 'takeout/Photos from 2021/IMG_20210704_183000.jpg',
  takeoutJson: 'takeout/Photos from 2021/IMG_20210704_183000.jpg.supplemental-metadata.json',
  takeoutCopy: 'takeout/Photos from 2021/IMG_20210704_183000(1).jpg',
  takeoutCopyJson: 'takeout/Photos from 2021/IMG_20210704_183000.jpg(1).json',
  takeoutLong: 'takeout/Photos from 2021/a_summer_evening_at_the_lake_with_friends_2021.jpg',
  takeoutLongJson: 'takeout/Photos from 2021/a_summer_evening_at_the_lake_with_friends_2.json',
  liveStill: 'iphone/IMG_5195.HEIC',
  liveVideo: 'iphone/IMG_5195.MOV',
  namedStill: 'iphone/IMG_6000.JPG',
  namedVideo: 'iphone/IMG_6000.MOV',
  raw: 'raw/DSC_0100.NEF',
  rawJpeg: 'raw/DSC_0100.JPG',
  motionPhoto: 'pixel/PXL_20210704_183000000.MP.jpg',
  quicktimeGps: 'videos/MVI_0456.MOV',
} as const;

function write(root: string, rel: string, content: Buffer | string): string {
  const file = path.join(root, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  return file;
}

/** Writes the XMP sidecar as Lightroom would (a corrected date with its offset, rating, keywords, GPS). */
export function writeXmpSidecar(file: string, rating: number): void {
  fs.rmSync(file, { force: true });
  exiftool([
    '-XMP-exif:DateTimeOriginal=2005:11:12 09:30:00+01:00',
    `-XMP-xmp:Rating=${rating}`,
    '-XMP-dc:Subject=holiday',
    '-XMP-dc:Subject=paris',
    '-XMP-exif:GPSLatitude=48.8584',
    '-XMP-exif:GPSLongitude=2.2945',
    file,
  ]);
}

function takeoutJson(title: string, timestamp: number): string {
  return `${JSON.stringify(
    {
      title,
      description: 'Sunset at the lake',
      photoTakenTime: { timestamp: String(timestamp), formatted: 'Jul 4, 2021, 6:30:00 PM UTC' },
      geoData: { latitude: 52.52, longitude: 13.405, altitude: 34, latitudeSpan: 0, longitudeSpan: 0 },
      url: 'https://photos.google.com/photo/xyz',
      googlePhotosOrigin: { mobileUpload: { deviceType: 'ANDROID_PHONE' } },
    },
    null,
    2,
  )}\n`;
}

export async function makeCore2Archive(root: string): Promise<void> {
  const F = CORE2_FILES;
  // A camera JPEG: DateTimeOriginal without any zone, no GPS (real file, see ATTRIBUTION.md).
  write(root, F.zonelessJpeg, fs.readFileSync(path.join(FIXTURES, 'jpg', 'Canon_40D.jpg')));

  // A Lightroom-style edit: the camera's file untouched, the XMP beside it says otherwise.
  write(root, F.xmpJpeg, fs.readFileSync(path.join(FIXTURES, 'jpg', 'Nikon_D70.jpg')));
  writeXmpSidecar(path.join(root, F.xmpSidecar), 4);

  // Google Takeout: the service stripped the EXIF; the JSON beside it is all that is left.
  const stamp = Date.UTC(2021, 6, 4, 18, 30, 0) / 1000;
  write(root, F.takeoutPhoto, await jpeg(1));
  write(root, F.takeoutJson, takeoutJson('IMG_20210704_183000.jpg', stamp));
  write(root, F.takeoutCopy, await jpeg(2));
  write(root, F.takeoutCopyJson, takeoutJson('IMG_20210704_183000(1).jpg', stamp + 60));
  write(root, F.takeoutLong, await jpeg(3));
  write(
    root,
    F.takeoutLongJson,
    takeoutJson('a_summer_evening_at_the_lake_with_friends_2021.jpg', stamp + 120),
  );

  // A Live Photo: the real iPhone HEIC, and its video with the same content identifier (UTC creation time).
  write(root, F.liveStill, fs.readFileSync(path.join(FIXTURES, 'heic', 'IMG_5195.HEIC')));
  fs.mkdirSync(path.join(root, 'iphone'), { recursive: true });
  video(path.join(root, F.liveVideo), {
    creation_time: '2021-04-11T20:47:53Z',
    'com.apple.quicktime.content.identifier': '570F1469-09C7-4E50-9875-05F21D5BD166',
  });
  // A pair with no identifier: same name, same folder, the same second.
  const still = write(root, F.namedStill, await jpeg(4));
  exiftool([
    '-overwrite_original',
    '-EXIF:DateTimeOriginal=2021:07:04 20:30:00',
    '-EXIF:OffsetTimeOriginal=+02:00',
    still,
  ]);
  video(path.join(root, F.namedVideo), { creation_time: '2021-07-04T18:30:00.400Z' });

  // RAW+JPEG twins: same stem, same folder, same capture time (a minimal NEF, see raw-files.ts).
  const preview = await jpeg(5, 160, 120);
  const raw = write(root, F.raw, tiffRaw({ make: 'NIKON CORPORATION', orientation: 1, jpeg: preview }));
  exiftool(['-overwrite_original', '-EXIF:DateTimeOriginal=2019:03:02 11:12:13', raw]);
  const rawJpeg = write(root, F.rawJpeg, await jpeg(6));
  exiftool([
    '-overwrite_original',
    '-EXIF:DateTimeOriginal=2019:03:02 11:12:13',
    '-EXIF:Make=NIKON CORPORATION',
    rawJpeg,
  ]);

  // A motion photo: Google's MicroVideo tags, then the MP4 appended after the picture.
  const clip = path.join(root, '..', 'motion-clip.mp4');
  video(clip, { creation_time: '2021-07-04T18:30:00Z' });
  const mp4 = fs.readFileSync(clip);
  fs.rmSync(clip);
  const motion = write(root, F.motionPhoto, await jpeg(7));
  exiftool([
    '-overwrite_original',
    '-XMP-GCamera:MicroVideo=1',
    '-XMP-GCamera:MicroVideoVersion=1',
    `-XMP-GCamera:MicroVideoOffset=${mp4.length}`,
    '-EXIF:DateTimeOriginal=2021:07:04 20:30:00',
    motion,
  ]);
  fs.appendFileSync(motion, mp4);

  // A QuickTime video with GPS: its stamps are UTC by the format, shown in Berlin's zone.
  fs.mkdirSync(path.join(root, 'videos'), { recursive: true });
  video(path.join(root, F.quicktimeGps), {
    creation_time: '2021-07-04T18:30:00Z',
    location: '+52.5200+013.4050/',
  });
}
