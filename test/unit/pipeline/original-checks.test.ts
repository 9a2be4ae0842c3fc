import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StepContext, StepOutcome } from '../../../src/pipeline/step.js';
import { metadataStep } from '../../../src/pipeline/steps/metadata.js';
import { thumbnailStep } from '../../../src/pipeline/steps/thumbnail.js';
import { endTools } from '../../../src/pipeline/tools/lifecycle.js';
import type { MediaType } from '../../../src/store/schema.js';
import { openOriginal } from '../../../src/catalog/original-file.js';
import { tempDir } from '../../helpers/cli.js';
import { context, ffmpeg, fixture, THUMBNAIL_DEFAULTS } from './media-helpers.js';

/**
 * Issue 14, items 5, 6, 7 and 14 (PRODUCT section 6, drill J): a step checks an original against what the
 * catalog recorded before using it, and hands it to tools only as the descriptor it opened. A changed
 * file fails `source-changed` (with the hint to re-catalog), a FIFO or a symlink swapped in fails
 * `not-a-regular-file` at once, a newline in a name is no concern of exiftool's, and pictures are
 * thumbnailed without touching their access time.
 */

let dir: string;
let cleanup: () => void;
beforeAll(() => {
  ({ dir, cleanup } = tempDir('archivist-original-'));
});
afterAll(async () => {
  await endTools();
  cleanup();
});

/** The step context as the worker makes it: the catalog's facts of the file as it is now. */
function cataloged<P>(file: string, mediaType: MediaType, params: P): StepContext<P> {
  const base = context(file, mediaType, params);
  const stat = fs.statSync(file, { bigint: true });
  return { ...base, asset: { ...base.asset, mtimeNs: stat.mtimeNs.toString(), inode: stat.ino.toString() } };
}

function both(ctx: StepContext<typeof THUMBNAIL_DEFAULTS>): Promise<[StepOutcome, StepOutcome]> {
  return Promise.all([thumbnailStep.run(ctx), metadataStep.run({ ...ctx, params: {} })]);
}

function copyOf(rel: string, name: string): string {
  const file = path.join(dir, name);
  fs.copyFileSync(fixture(rel), file);
  return file;
}

describe('an original checked against the catalog before any tool reads it', () => {
  it('edited after the catalog (other content, same size, mtime put back): source-changed, not retried', async () => {
    const file = copyOf('jpg/Canon_40D.jpg', 'edited.jpg');
    const ctx = cataloged(file, 'image', THUMBNAIL_DEFAULTS);
    const before = fs.statSync(file);
    const bytes = fs.readFileSync(file);
    const at = bytes.length - 10;
    bytes[at] = bytes[at]! ^ 0xff;
    fs.writeFileSync(file, bytes);
    fs.utimesSync(file, before.atime, before.mtime);
    for (const outcome of await both(ctx)) {
      expect(outcome).toMatchObject({ status: 'failed', reason: 'source-changed', retryable: false });
      expect((outcome as { message: string }).message).toMatch(
        /changed since it was cataloged .*archivist catalog/,
      );
    }
  });

  it('grown after the catalog: source-changed, naming the sizes', async () => {
    const file = copyOf('jpg/Nikon_D70.jpg', 'grown.jpg');
    const ctx = cataloged(file, 'image', THUMBNAIL_DEFAULTS);
    fs.appendFileSync(file, 'more');
    const [thumb] = await both(ctx);
    expect(thumb).toMatchObject({ status: 'failed', reason: 'source-changed' });
    expect((thumb as { message: string }).message).toMatch(/size \d+ → \d+ bytes/);
  });

  it('replaced by another file of the same size (a new inode): source-changed', async () => {
    const file = copyOf('jpg/Canon_40D.jpg', 'replaced.jpg');
    const ctx = cataloged(file, 'image', THUMBNAIL_DEFAULTS);
    const other = path.join(dir, 'other.jpg');
    fs.copyFileSync(file, other);
    fs.renameSync(other, file);
    const [thumb] = await both(ctx);
    expect(thumb).toMatchObject({ status: 'failed', reason: 'source-changed' });
    expect((thumb as { message: string }).message).toMatch(/inode/);
  });

  it('swapped for a symlink to a file outside the source: not-a-regular-file, the target never read', async () => {
    const outside = copyOf('jpg/Nikon_D70.jpg', 'outside.jpg');
    const file = copyOf('jpg/Canon_40D.jpg', 'swapped.jpg');
    const ctx = cataloged(file, 'image', THUMBNAIL_DEFAULTS);
    fs.rmSync(file);
    fs.symlinkSync(outside, file);
    const old = new Date('2001-02-03T04:05:06Z');
    fs.utimesSync(outside, old, old);
    for (const outcome of await both(ctx)) {
      expect(outcome).toMatchObject({ status: 'failed', reason: 'not-a-regular-file', retryable: false });
    }
    expect(fs.statSync(outside).atimeMs).toBe(old.getTime());
  });

  it.skipIf(process.platform === 'win32')(
    'swapped for a FIFO: not-a-regular-file at once, never waiting for a writer',
    async () => {
      const file = copyOf('videos/landscape_h264.mp4', 'fifo.mp4');
      const ctx = cataloged(file, 'video', THUMBNAIL_DEFAULTS);
      fs.rmSync(file);
      execFileSync('mkfifo', [file]);
      for (const outcome of await both(ctx)) {
        expect(outcome).toMatchObject({ status: 'failed', reason: 'not-a-regular-file', retryable: false });
      }
    },
    20_000,
  );
});

describe('tools read the descriptor, not the name', () => {
  it('a newline in the file name: metadata and thumbnail of a valid JPEG', async () => {
    const file = copyOf('jpg/Canon_40D.jpg', 'line\nbreak.jpg');
    const [thumb, metadata] = await both(cataloged(file, 'image', THUMBNAIL_DEFAULTS));
    expect(thumb.status).toBe('done');
    expect(metadata.status).toBe('done');
    const json = JSON.parse((metadata as { output: { bytes: Buffer } }).output.bytes.toString('utf8')) as {
      make: string;
      raw: { exiftool: Record<string, unknown> };
    };
    expect(json.make).toBe('Canon');
  });

  it.skipIf(process.platform !== 'linux')(
    'thumbnails leave the access time of pictures alone (sharp from a buffer, native HEIC from the descriptor)',
    async () => {
      const files = [copyOf('jpg/Canon_40D.jpg', 'atime.jpg'), copyOf('heic/IMG_5195.HEIC', 'atime.heic')];
      const png = path.join(dir, 'atime.png');
      await sharp(fixture('jpg/Nikon_D70.jpg')).png().toFile(png);
      files.push(png);
      const old = new Date('2001-02-03T04:05:06Z');
      for (const file of files) {
        // atime not after mtime: under relatime, any read through a fresh open would update it.
        fs.utimesSync(file, old, old);
        const ctx = cataloged(file, 'image', THUMBNAIL_DEFAULTS);
        // The test hashed the file for its catalog facts (a plain read): set the times again.
        fs.utimesSync(file, old, old);
        const outcome = await thumbnailStep.run(ctx);
        expect(outcome.status, file).toBe('done');
        const after = fs.statSync(file, { bigint: true });
        expect(after.atimeNs, `${file} was read without O_NOATIME`).toBe(BigInt(old.getTime()) * 1_000_000n);
      }
    },
  );

  it('a video is read through the descriptor (a path swapped during the run is not followed)', async () => {
    const file = path.join(dir, 'clip.mp4');
    await ffmpeg('-f lavfi -i testsrc=size=320x240:rate=25 -t 1 -c:v libx264 -pix_fmt yuv420p', file);
    const outcome = await thumbnailStep.run(cataloged(file, 'video', THUMBNAIL_DEFAULTS));
    expect(outcome.status === 'done' && outcome.decoder).toMatch(/^ffmpeg \S+ frame at \d+\.\d s → sharp/);
  });
});

describe('the content of an original, lent for the time of its use', () => {
  it('one buffer per process, reused by the next original; one in use at the same time is not shared', async () => {
    const [a, b] = ['lent-a.bin', 'lent-b.bin'].map((name, i) => {
      const file = path.join(dir, name);
      fs.writeFileSync(file, Buffer.alloc(300_000 + i * 1000, i + 1));
      return file;
    });
    const open = (file: string) => openOriginal(file, { size: fs.statSync(file).size });
    const [first, second] = [await open(a!), await open(b!)];
    try {
      const lentFirst = await first.withContent((content) => {
        expect(content.equals(fs.readFileSync(a!))).toBe(true);
        return Promise.resolve(content.buffer);
      });
      // The next original's content is read into the same memory: no new buffer per file.
      const lentSecond = await second.withContent((content) => {
        expect(content.equals(fs.readFileSync(b!))).toBe(true);
        return Promise.resolve(content.buffer);
      });
      expect(lentSecond).toBe(lentFirst);
      // Two at once (a decoder reading while another original is open): each has its own bytes.
      await first.withContent(async (outer) => {
        await second.withContent((inner) => {
          expect(inner.buffer).not.toBe(outer.buffer);
          expect(inner.equals(fs.readFileSync(b!))).toBe(true);
          return Promise.resolve();
        });
        expect(outer.equals(fs.readFileSync(a!))).toBe(true);
      });
      // `read` gives the caller a buffer of its own, never the lent one.
      expect((await first.read()).buffer).not.toBe(lentFirst);
    } finally {
      await first.close();
      await second.close();
    }
  });
});
