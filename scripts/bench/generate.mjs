/**
 * The archive generator: a deterministic, realistic slice of a personal archive for the benchmarks and
 * for manual testing.
 *
 *   npm run bench -- generate [--small] [--photos N] [--videos M] [--seed K] [--out DIR] [--force]
 *
 * Layout: YEAR/DEVICE/YYYY-MM-DD EVENT/NAME. Contents:
 *   - camera-sized baseline JPEGs (8, 12 and 24 MP, one or two of 50 MP) with EXIF: make, model,
 *     DateTimeOriginal with and without OffsetTimeOriginal, GPS for some, all 8 orientations;
 *   - PNG screenshots (phone-sized), HEIC/HEIF copied from test/fixtures/media/heic;
 *   - H.264 and HEVC clips (ffmpeg test sources, 1-3 s), some with a 90/180/270 rotation flag, QuickTime
 *     creation_time/make/model tags;
 *   - duplicates (the same bytes at two paths), .xmp sidecars, junk (.DS_Store, @eaDir, Thumbs.db), and a few
 *     corrupt files (truncated JPEG, JPEG header + garbage, truncated MP4, an empty file).
 *
 * Pixels: a few base pictures per size are encoded once (smooth noise, so libjpeg has real work); every
 * photo is one of them with its own EXIF segment spliced in, so every photo is a distinct file (distinct
 * sha256) with the decoding cost of a real one. Same options + same seed = same tree.
 */
import { Buffer } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { performance } from 'node:perf_hooks';
import { REPO, benchCacheDir, log, makeRandom, run, isWithin, realpathOfNearest } from './lib.mjs';

export const GENERATOR_FORMAT = 2; // bump when the output changes: a kept archive is then regenerated

export function defaultArchiveDir({ photos, videos, seed }) {
  return benchCacheDir(`archive-p${photos}-v${videos}-s${seed}`);
}

const DEVICES = [
  {
    make: 'Canon',
    model: 'Canon EOS 5D Mark IV',
    dir: 'Canon EOS 5D Mark IV',
    prefix: 'IMG_',
    sizes: [
      [6720, 4480],
      [4032, 3024],
    ],
  },
  {
    make: 'NIKON CORPORATION',
    model: 'NIKON D750',
    dir: 'Nikon D750',
    prefix: 'DSC_',
    sizes: [
      [6016, 4016],
      [4032, 3024],
    ],
  },
  { make: 'SONY', model: 'ILCE-7M3', dir: 'Sony A7 III', prefix: 'DSC0', sizes: [[6000, 4000]] },
  { make: 'Apple', model: 'iPhone 12', dir: 'iPhone 12', prefix: 'IMG_', sizes: [[4032, 3024]] },
  { make: 'Google', model: 'Pixel 7', dir: 'Pixel 7', prefix: 'PXL_', sizes: [[4080, 3072]] },
  { make: 'samsung', model: 'SM-G991B', dir: 'Galaxy S21', prefix: '2020', sizes: [[3264, 2448]] },
];
const EVENTS = [
  'Beach',
  'Birthday',
  'Christmas',
  'Hiking',
  'Wedding',
  'Paris trip',
  'Garden',
  'School play',
  'Ski week',
  'Été à Zürich',
  'Road trip',
  'Museum',
  'Concert',
  'Graduation',
  'Picnic',
  'Zoo',
];
const ZONES = ['+02:00', '+01:00', '-05:00', '+09:00', '+00:00', '-08:00', '+05:30'];
const PLACES = [
  [48.8566, 2.3522],
  [47.3769, 8.5417],
  [40.7128, -74.006],
  [35.6762, 139.6503],
  [-33.8688, 151.2093],
  [51.5072, -0.1276],
];

function parseGenerateArgs(argv) {
  const options = { photos: 5000, videos: 50, seed: 1, out: undefined, small: false, force: false };
  let photosSet = false;
  let videosSet = false;
  const integer = (flag, value, min) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new Error(`${flag} needs an integer >= ${min}, got ${value}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    switch (arg) {
      case '--small':
        options.small = true;
        break;
      case '--photos':
        options.photos = integer(arg, value(), 1);
        photosSet = true;
        break;
      case '--videos':
        options.videos = integer(arg, value(), 0);
        videosSet = true;
        break;
      case '--seed':
        options.seed = integer(arg, value(), 0);
        break;
      case '--out':
        options.out = path.resolve(value());
        break;
      case '--force':
        options.force = true;
        break;
      default:
        throw new Error(`generate: unknown option ${arg}`);
    }
  }
  if (options.small) {
    if (!photosSet) options.photos = 200;
    if (!videosSet) options.videos = 5;
  }
  return options;
}

// ---------------------------------------------------------------------------------------- JPEG + EXIF

/** Removes the APPn segments right after SOI (JFIF, any metadata): the bytes from the first other marker. */
function jpegBody(jpeg) {
  let at = 2;
  while (jpeg[at] === 0xff && jpeg[at + 1] >= 0xe0 && jpeg[at + 1] <= 0xef) {
    at += 2 + jpeg.readUInt16BE(at + 2);
  }
  return jpeg.subarray(at);
}

/** The APP1 (Exif) segment sharp writes for these tags, taken from a tiny picture. */
async function exifSegment(sharp, exif, orientation) {
  const tiny = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } })
    .jpeg()
    .withExif(exif)
    .withMetadata({ orientation })
    .toBuffer();
  let at = 2;
  while (tiny[at] === 0xff && tiny[at + 1] >= 0xe0 && tiny[at + 1] <= 0xef) {
    const length = tiny.readUInt16BE(at + 2);
    if (tiny[at + 1] === 0xe1 && tiny.toString('latin1', at + 4, at + 8) === 'Exif') {
      return tiny.subarray(at, at + 2 + length);
    }
    at += 2 + length;
  }
  throw new Error('sharp wrote no Exif segment');
}

const rational = (value) => {
  const abs = Math.abs(value);
  const degrees = Math.floor(abs);
  const minutesFull = (abs - degrees) * 60;
  const minutes = Math.floor(minutesFull);
  const seconds = Math.round((minutesFull - minutes) * 60 * 100);
  return `${degrees}/1 ${minutes}/1 ${seconds}/100`;
};

/** Smooth noise from the seeded generator, upscaled: deterministic pixels with real JPEG work in them. */
async function basePicture(sharp, random, width, height) {
  const w = Math.ceil(width / 16);
  const h = Math.ceil(height / 16);
  const small = Buffer.alloc(w * h * 3);
  const tint = [random.int(0, 120), random.int(0, 120), random.int(0, 120)];
  for (let i = 0; i < small.length; i++) small[i] = tint[i % 3] + (random.next() % 136);
  const fine = Buffer.alloc(256 * 256 * 3);
  for (let i = 0; i < fine.length; i++) fine[i] = 112 + (random.next() % 32);
  const grain = await sharp(fine, { raw: { width: 256, height: 256, channels: 3 } })
    .png()
    .toBuffer();
  return sharp(small, { raw: { width: w, height: h, channels: 3 } })
    .resize(width, height, { kernel: 'cubic', fit: 'fill' })
    .composite([{ input: grain, tile: true, blend: 'overlay' }])
    .jpeg({ quality: 88, mozjpeg: false })
    .toBuffer();
}

// -------------------------------------------------------------------------------------------- videos

async function makeVideo(file, spec) {
  const args = ['-hide_banner', '-nostdin', '-v', 'error', '-y'];
  args.push(
    '-f',
    'lavfi',
    '-i',
    `${spec.source}=size=${spec.width}x${spec.height}:rate=30:duration=${spec.seconds}`,
  );
  args.push('-f', 'lavfi', '-i', `sine=frequency=${spec.tone}:duration=${spec.seconds}`);
  if (spec.codec === 'hevc') {
    args.push(
      '-c:v',
      'libx265',
      '-preset',
      'ultrafast',
      '-x265-params',
      'log-level=error:pools=2',
      '-tag:v',
      'hvc1',
    );
  } else {
    args.push('-c:v', 'libx264', '-preset', 'veryfast');
  }
  args.push('-pix_fmt', 'yuv420p', '-threads', '2', '-c:a', 'aac', '-b:a', '64k', '-shortest');
  args.push('-metadata', `creation_time=${spec.creationTime}`);
  if (spec.make) {
    args.push('-movflags', 'use_metadata_tags');
    args.push('-metadata', `com.apple.quicktime.make=${spec.make}`);
    args.push('-metadata', `com.apple.quicktime.model=${spec.model}`);
    args.push('-metadata', `com.apple.quicktime.creationdate=${spec.creationTime.replace('Z', '+0000')}`);
    if (spec.location) args.push('-metadata', `com.apple.quicktime.location.ISO6709=${spec.location}`);
  }
  args.push('-fflags', '+bitexact', '-flags:v', '+bitexact', '-flags:a', '+bitexact', file);
  await run('ffmpeg', args);
  // ffmpeg 5 no longer writes a `rotate` tag as a display matrix (and -display_rotation is ffmpeg 6+):
  // exiftool writes the track's matrix, which is what phones do.
  if (spec.rotate) {
    const { exiftool } = await import('exiftool-vendored');
    await exiftool.write(file, { Rotation: spec.rotate }, { writeArgs: ['-overwrite_original'] });
  }
}

// ----------------------------------------------------------------------------------------------- main

async function pool(items, concurrency, fn) {
  let next = 0;
  const workers = Array.from({ length: concurrency }, async () => {
    while (next < items.length) {
      const index = next++;
      await fn(items[index], index);
    }
  });
  await Promise.all(workers);
}

const pad = (n, width) => String(n).padStart(width, '0');

/**
 * Generates the archive (or reuses it when its manifest says it is exactly this one). Returns the manifest.
 */
export async function generateArchive(options) {
  // Tests generate their media with `quiet`: a test run's output is the tests', not the bench's.
  const say = options.quiet ? () => {} : log;
  const out = options.out ?? defaultArchiveDir(options);
  if (isWithin(realpathOfNearest(out), fs.realpathSync(REPO))) {
    throw new Error(`${out} is inside the repository: the archive must live outside it`);
  }
  const manifestFile = path.join(path.dirname(out), `${path.basename(out)}.manifest.json`);
  const wanted = {
    format: GENERATOR_FORMAT,
    photos: options.photos,
    videos: options.videos,
    seed: options.seed,
  };
  if (!options.force && fs.existsSync(manifestFile) && fs.existsSync(out)) {
    const found = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
    if (Object.entries(wanted).every(([k, v]) => found[k] === v)) {
      say(`reusing the archive at ${out}`);
      return { ...found, root: out, manifestFile, reused: true };
    }
  }
  if (fs.existsSync(out)) {
    if (!options.force && fs.readdirSync(out).length > 0) {
      throw new Error(
        `${out} exists and is not this archive: remove it, pass --force, or pick another --out`,
      );
    }
    fs.rmSync(out, { recursive: true, force: true });
  }
  fs.rmSync(manifestFile, { force: true });
  fs.mkdirSync(out, { recursive: true });
  const started = performance.now();
  say(`generating ${options.photos} photos and ${options.videos} videos (seed ${options.seed}) under ${out}`);

  const sharp = (await import('sharp')).default;
  sharp.cache(false);
  const random = makeRandom(0xa2c1 ^ (options.seed * 2654435761));
  const counts = {
    jpeg: 0,
    png: 0,
    heic: 0,
    video: 0,
    duplicates: 0,
    sidecars: 0,
    junk: 0,
    corrupt: 0,
    megapixels50: 0,
  };
  const files = [];
  const write = (rel, bytes) => {
    const file = path.join(out, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, bytes);
    files.push(rel);
    return file;
  };

  // Base pictures: a few per size (distinct pixels), encoded once.
  const sizes = new Map();
  for (const device of DEVICES) for (const [w, h] of device.sizes) sizes.set(`${w}x${h}`, [w, h]);
  const basesPerSize = options.photos >= 1000 ? 4 : 2;
  const bases = new Map();
  for (const [key, [w, h]] of sizes) {
    const list = [];
    for (let k = 0; k < basesPerSize; k++) list.push(jpegBody(await basePicture(sharp, random, w, h)));
    bases.set(key, list);
  }
  say(`base pictures ready (${Math.round(performance.now() - started)} ms)`);

  // Events: each a folder of one device on one day.
  const eventCount = Math.max(4, Math.ceil(options.photos / 60));
  const events = Array.from({ length: eventCount }, (_, e) => {
    const device = random.pick(DEVICES);
    const year = 2008 + (random.next() % 17);
    const month = 1 + (random.next() % 12);
    const day = 1 + (random.next() % 28);
    const name = `${year}-${pad(month, 2)}-${pad(day, 2)} ${EVENTS[e % EVENTS.length]}`;
    return {
      device,
      year,
      month,
      day,
      dir: `${year}/${device.dir}/${name}`,
      counter: 1 + (random.next() % 5000),
    };
  });

  const screenshots = Math.max(1, Math.round(options.photos * 0.03));
  const heics = Math.min(3, Math.max(1, Math.round(options.photos * 0.01)));
  const fifty = options.photos >= 1000 ? 2 : 1;
  const jpegs = Math.max(0, options.photos - screenshots - heics);

  // JPEGs: one task each, EXIF spliced into a base picture.
  const jpegTasks = Array.from({ length: jpegs }, (_, i) => {
    const event = events[Math.floor((i * eventCount) / Math.max(1, jpegs))];
    const device = event.device;
    const [w, h] = device.sizes[random.next() % device.sizes.length];
    const hour = random.int(7, 21);
    const taken = `${event.year}:${pad(event.month, 2)}:${pad(event.day, 2)} ${pad(hour, 2)}:${pad(random.int(0, 59), 2)}:${pad(random.int(0, 59), 2)}`;
    const exif = {
      IFD0: { Make: device.make, Model: device.model, Software: 'Firmware 1.0' },
      IFD2: { DateTimeOriginal: taken, CreateDate: taken, SubSecTimeOriginal: pad(i % 1000, 3) },
    };
    if (random.chance(0.6)) exif.IFD2.OffsetTimeOriginal = random.pick(ZONES);
    if (random.chance(0.4)) {
      const [lat, lon] = random.pick(PLACES);
      const jitter = () => (random.float() - 0.5) * 0.02;
      const la = lat + jitter();
      const lo = lon + jitter();
      exif.IFD3 = {
        GPSLatitudeRef: la >= 0 ? 'N' : 'S',
        GPSLatitude: rational(la),
        GPSLongitudeRef: lo >= 0 ? 'E' : 'W',
        GPSLongitude: rational(lo),
      };
    }
    const name = `${device.prefix}${pad(event.counter++, 4)}.JPG`;
    return {
      rel: `${event.dir}/${name}`,
      exif,
      orientation: 1 + (i % 8),
      base: bases.get(`${w}x${h}`)[random.next() % basesPerSize],
      fifty: i < fifty,
    };
  });
  const fiftyBase = fifty > 0 ? jpegBody(await basePicture(sharp, random, 8688, 5792)) : null;
  await pool(jpegTasks, 2, async (task) => {
    const segment = await exifSegment(sharp, task.exif, task.orientation);
    const body = task.fifty ? fiftyBase : task.base;
    write(task.rel, Buffer.concat([Buffer.from([0xff, 0xd8]), segment, body]));
    counts.jpeg++;
    if (task.fifty) counts.megapixels50++;
  });
  say(`${counts.jpeg} JPEGs written (${Math.round(performance.now() - started)} ms)`);

  // PNG screenshots, phone-sized, each its own pixels (cheap: flat colours and bars).
  for (let s = 0; s < screenshots; s++) {
    const event = events[s % eventCount];
    const bars = Array.from({ length: 6 }, (_, k) => ({
      input: {
        create: {
          width: 1000,
          height: 120,
          channels: 3,
          background: { r: random.int(0, 255), g: random.int(0, 255), b: random.int(0, 255) },
        },
      },
      left: 85,
      top: 300 + k * 300 + (random.next() % 100),
    }));
    const png = await sharp({ create: { width: 1170, height: 2532, channels: 3, background: '#f2f2f7' } })
      .composite(bars)
      .png({ compressionLevel: 3 })
      .toBuffer();
    write(
      `${event.year}/Screenshots/Screenshot ${event.year}-${pad(event.month, 2)}-${pad(event.day, 2)} at ${pad(s % 24, 2)}.${pad(s % 60, 2)}.png`,
      png,
    );
    counts.png++;
  }

  // HEIC/HEIF from the fixtures.
  const heicDir = path.join(REPO, 'test/fixtures/media/heic');
  const heicFiles = fs.existsSync(heicDir) ? fs.readdirSync(heicDir).sort() : [];
  for (let k = 0; k < heics && k < heicFiles.length; k++) {
    const event = events.find((e) => e.device.make === 'Apple') ?? events[0];
    write(`${event.year}/iPhone 12/HEIC/${heicFiles[k]}`, fs.readFileSync(path.join(heicDir, heicFiles[k])));
    counts.heic++;
  }

  // Videos.
  const sources = ['testsrc', 'testsrc2', 'smptebars', 'rgbtestsrc', 'smptehdbars'];
  const videoTasks = Array.from({ length: options.videos }, (_, v) => {
    const event = events[(v * 7) % eventCount];
    const hevc = v % 3 === 1;
    const portrait = v % 4 === 3;
    const rotate = [0, 90, 0, 180, 270][v % 5];
    const ext = hevc || event.device.make === 'Apple' ? 'MOV' : 'MP4';
    const creation = `${event.year}-${pad(event.month, 2)}-${pad(event.day, 2)}T${pad(10 + (v % 10), 2)}:${pad(v % 60, 2)}:00Z`;
    return {
      rel: `${event.dir}/VID_${pad(v + 1, 4)}.${ext}`,
      spec: {
        source: sources[v % sources.length],
        width: portrait ? 720 : 1280,
        height: portrait ? 1280 : 720,
        seconds: 1 + (v % 3),
        tone: 220 + v * 10,
        codec: hevc ? 'hevc' : 'h264',
        rotate,
        creationTime: creation,
        make: ext === 'MOV' ? event.device.make : null,
        model: event.device.model,
        location: v % 2 === 0 ? '+48.8566+002.3522/' : null,
      },
    };
  });
  await pool(videoTasks, 1, async (task) => {
    const file = path.join(out, task.rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    await makeVideo(file, task.spec);
    files.push(task.rel);
    counts.video++;
  });
  say(`${counts.video} videos written (${Math.round(performance.now() - started)} ms)`);

  // Duplicates: the same bytes at a second path (an "Export" folder and a "(1)" copy).
  const duplicates = Math.max(2, Math.round(options.photos * 0.02));
  for (let d = 0; d < duplicates && d < jpegTasks.length; d++) {
    const task = jpegTasks[(d * 37) % jpegTasks.length];
    const target =
      d % 2 === 0
        ? `Export/${path.basename(path.dirname(task.rel))}/${path.basename(task.rel)}`
        : task.rel.replace(/\.JPG$/, ' (1).JPG');
    fs.mkdirSync(path.join(out, path.dirname(target)), { recursive: true });
    fs.copyFileSync(path.join(out, task.rel), path.join(out, target));
    files.push(target);
    counts.duplicates++;
  }

  // Sidecars.
  const sidecars = Math.max(2, Math.round(options.photos * 0.05));
  for (let s = 0; s < sidecars && s < jpegTasks.length; s++) {
    const task = jpegTasks[(s * 13) % jpegTasks.length];
    const xmp =
      `<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>\n<x:xmpmeta xmlns:x="adobe:ns:meta/">\n` +
      ` <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n` +
      `  <rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="${s % 6}" xmp:Label="bench ${s}"/>\n` +
      ` </rdf:RDF>\n</x:xmpmeta>\n<?xpacket end="w"?>\n`;
    write(task.rel.replace(/\.JPG$/, '.xmp'), Buffer.from(xmp));
    counts.sidecars++;
  }

  // Junk.
  const junkDirs = [...new Set(events.map((e) => e.dir))].slice(0, Math.max(2, Math.round(eventCount / 5)));
  for (const dir of junkDirs) {
    write(`${dir}/.DS_Store`, Buffer.from(`Bud1\0\0\0junk ${dir}`));
    write(`${dir}/@eaDir/SYNOFILE_THUMB_XL.jpg`, Buffer.from(`synology thumb ${dir}`));
    write(`${dir}/Thumbs.db`, Buffer.from(`thumbs ${dir}`));
    counts.junk += 3;
  }

  // Corrupt files.
  const someJpeg = jpegTasks[0] ? fs.readFileSync(path.join(out, jpegTasks[0].rel)) : null;
  if (someJpeg) {
    write(`Corrupt/IMG_TRUNCATED.JPG`, someJpeg.subarray(0, Math.floor(someJpeg.length * 0.4)));
    const garbage = Buffer.alloc(200_000);
    const r = makeRandom(options.seed + 77);
    for (let i = 0; i < garbage.length; i++) garbage[i] = r.next() & 255;
    write(`Corrupt/IMG_GARBAGE.JPG`, Buffer.concat([someJpeg.subarray(0, 2000), garbage]));
    counts.corrupt += 2;
  }
  const someVideo = videoTasks[0] ? path.join(out, videoTasks[0].rel) : null;
  if (someVideo) {
    const bytes = fs.readFileSync(someVideo);
    write(`Corrupt/VID_TRUNCATED.MP4`, bytes.subarray(0, Math.floor(bytes.length * 0.3)));
    counts.corrupt++;
  }
  write(`Corrupt/empty.jpg`, Buffer.alloc(0));
  counts.corrupt++;

  if (videoTasks.some((task) => task.spec.rotate)) await (await import('exiftool-vendored')).exiftool.end();
  execFileSync('sync');
  let bytes = 0;
  for (const rel of files) bytes += fs.statSync(path.join(out, rel)).size;
  const manifest = {
    ...wanted,
    generatedAt: new Date().toISOString(),
    generateMs: Math.round(performance.now() - started),
    files: files.length,
    bytes,
    counts,
  };
  fs.writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  log(
    `done: ${files.length} files, ${(bytes / 1e9).toFixed(2)} GB in ${(manifest.generateMs / 1000).toFixed(1)} s`,
  );
  return { ...manifest, root: out, manifestFile, reused: false };
}

export async function generateCommand(argv) {
  const options = parseGenerateArgs(argv);
  const manifest = await generateArchive(options);
  process.stdout.write(`${JSON.stringify({ root: manifest.root, ...manifest }, null, 2)}\n`);
}
