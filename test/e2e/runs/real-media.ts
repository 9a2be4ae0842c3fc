import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { archiveManifest } from '../../helpers/archive-manifest.js';
import { REPO_ROOT } from '../../helpers/cli.js';
import { isAlive } from './processes.js';

/**
 * The drills' archive of real media (issue 6): the camera and phone files of test/fixtures/media (see its
 * ATTRIBUTION.md) under `fixtures/`, and under `generated/` the benchmark generator's realistic slice
 * (scripts/bench/generate.mjs: camera-sized JPEGs with EXIF in every orientation, one of 50 MP, a PNG
 * screenshot, a HEIC, H.264/HEVC clips of 1-3 s, a duplicate, .xmp sidecars, junk, and corrupt files).
 *
 * Generating takes about half a minute, so it is done once and cached under the system temp folder in a
 * directory named by a hash of the generator's parameters and source; each drill then COPIES it into its
 * own temporary archive (its own inodes, never hardlinks: the read-only manifest of one drill must not be
 * disturbed by another). The size (about 60 assets, 0.23 GB) is tuned so that a `core` run with 2 workers
 * lasts about 7 s on this 2-core machine when it is otherwise idle, and twice that when it is busy: long
 * enough to kill, cancel or fill the disk in the middle of it, short enough for a dozen drills.
 */
export const MEDIA_PARAMS = { photos: 40, videos: 3, seed: 6 } as const;

const FIXTURE_MEDIA = path.join(REPO_ROOT, 'test', 'fixtures', 'media');
const GENERATOR = path.join(REPO_ROOT, 'scripts', 'bench', 'generate.mjs');
const GENERATOR_LIB = path.join(REPO_ROOT, 'scripts', 'bench', 'lib.mjs');
/** The generator copies the HEIC fixtures, so they are part of what it makes. */
const HEIC_FIXTURES = path.join(FIXTURE_MEDIA, 'heic');
/** First generation on a loaded machine (or waiting for another test file that generates it). */
const GENERATE_LIMIT_MS = 5 * 60_000;
/** For the `beforeAll` hook that makes sure the media exist before a test file's drills start. */
export const GENERATE_TIMEOUT_MS = GENERATE_LIMIT_MS + 60_000;

interface GeneratorModule {
  generateArchive(options: {
    photos: number;
    videos: number;
    seed: number;
    out: string;
    quiet?: boolean;
  }): Promise<unknown>;
}

/** The test run's shared folder (test/global-setup.ts), or the temp folder when a file runs on its own. */
function sharedTestDir(): string {
  return process.env.ARCHIVIST_TEST_SHARED_DIR ?? os.tmpdir();
}

function cacheDir(): string {
  const hash = createHash('sha256').update(JSON.stringify(MEDIA_PARAMS));
  for (const file of [GENERATOR, GENERATOR_LIB]) hash.update(fs.readFileSync(file));
  for (const name of fs.readdirSync(HEIC_FIXTURES).sort()) {
    hash.update(`${name}:${fs.statSync(path.join(HEIC_FIXTURES, name)).size}`);
  }
  return path.join(sharedTestDir(), `archivist-drill-media-${hash.digest('hex').slice(0, 16)}`);
}

interface Ready {
  files: { path: string; size: number }[];
}

/** The cached tree, if it is complete and nobody changed its files' sizes since. */
function readyTree(dir: string): string | null {
  try {
    const ready = JSON.parse(fs.readFileSync(path.join(dir, 'ready.json'), 'utf8')) as Ready;
    const tree = path.join(dir, 'generated');
    const whole = ready.files.every(
      (file) => fs.statSync(path.join(tree, ...file.path.split('/'))).size === file.size,
    );
    return whole ? tree : null;
  } catch {
    return null;
  }
}

async function generate(dir: string): Promise<void> {
  const partial = `${dir}.partial-${process.pid}`;
  fs.rmSync(partial, { recursive: true, force: true });
  fs.mkdirSync(partial, { recursive: true });
  // A computed URL: the generator is plain JavaScript outside the type-checked tree; its shape is above.
  const generator = (await import(pathToFileURL(GENERATOR).href)) as GeneratorModule;
  await generator.generateArchive({ ...MEDIA_PARAMS, out: path.join(partial, 'generated'), quiet: true });
  const files = archiveManifest(path.join(partial, 'generated'))
    .filter((entry) => entry.type === 'file')
    .map((entry) => ({ path: entry.path.split(path.sep).join('/'), size: entry.size }));
  fs.writeFileSync(path.join(partial, 'ready.json'), `${JSON.stringify({ files } satisfies Ready)}\n`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(partial, dir);
}

function lockOwner(lock: string): number {
  try {
    return Number(fs.readFileSync(path.join(lock, 'pid'), 'utf8'));
  } catch {
    return 0; // not written yet, or the lock is gone already
  }
}

/**
 * The generated part of the archive, made on first use and shared by every test file after that. Test
 * files run in parallel processes: a lock directory (holding the generating process's pid, so that a
 * crashed generator's lock is taken over) makes the others wait instead of generating it again.
 */
export async function generatedMedia(): Promise<string> {
  const dir = cacheDir();
  const lock = `${dir}.lock`;
  const deadline = Date.now() + GENERATE_LIMIT_MS;
  for (;;) {
    const tree = readyTree(dir);
    if (tree) return tree;
    try {
      fs.mkdirSync(lock);
    } catch {
      const owner = lockOwner(lock);
      if (owner > 0 && !isAlive(owner)) fs.rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`the drill media at ${dir} did not appear in time`);
      await sleep(500);
      continue;
    }
    try {
      fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
      if (!readyTree(dir)) await generate(dir);
    } finally {
      fs.rmSync(lock, { recursive: true, force: true });
    }
  }
}

/** Where the poison file goes, and its marker (a JPEG comment the `testpoison` pipeline looks for). */
export const POISON_PATH = 'poison/DSC_POISON.JPG';
export const POISON_MARKER = 'archivist-poison';

/** A real JPEG (the Nikon D70 fixture) with a COM segment carrying the poison marker right after SOI. */
function poisonJpeg(): Buffer {
  const jpeg = fs.readFileSync(path.join(FIXTURE_MEDIA, 'jpg', 'Nikon_D70.jpg'));
  const text = Buffer.from(POISON_MARKER, 'latin1');
  const length = Buffer.alloc(2);
  length.writeUInt16BE(text.length + 2);
  return Buffer.concat([jpeg.subarray(0, 2), Buffer.from([0xff, 0xfe]), length, text, jpeg.subarray(2)]);
}

/** Lays out the real archive at `archive`: `fixtures/`, `generated/` and, if asked, the poison file. */
export async function copyRealMedia(archive: string, options: { poison?: boolean } = {}): Promise<void> {
  const generated = await generatedMedia();
  fs.cpSync(generated, path.join(archive, 'generated'), { recursive: true });
  for (const kind of ['jpg', 'heic', 'tiff', 'videos']) {
    fs.cpSync(path.join(FIXTURE_MEDIA, kind), path.join(archive, 'fixtures', kind), { recursive: true });
  }
  if (options.poison) {
    fs.mkdirSync(path.join(archive, path.dirname(POISON_PATH)), { recursive: true });
    fs.writeFileSync(path.join(archive, POISON_PATH), poisonJpeg());
  }
}
