import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { withOriginal, type OriginalFile } from '../../catalog/original-file.js';
import type { StepDefinition } from '../step.js';
import { findEmbeddedVideoIn } from './embedded-video.js';
import { failureOf } from './failures.js';

/** Motion photos are JPEGs (Google MicroVideo / Motion Photo, Samsung) or HEIFs (newer phones). */
const MOTION_MIMES = /^image\/(jpeg|heic|heif)/;

/** This extractor's own version: bump it when what it extracts changes (it is in the cache key). */
const EXTRACTOR_VERSION = '1';

/** The bytes copied at a time: what extracting holds in memory, however long the video is. */
const COPY_CHUNK = 1024 * 1024;

/**
 * Copies `length` bytes at `start` of the original into `file` (the worker's scratch folder), a chunk at
 * a time through the read-only descriptor. The store then moves the file in, fsyncs and hashes it.
 */
async function copyRange(original: OriginalFile, start: number, length: number, file: string): Promise<void> {
  const out = await fs.promises.open(file, 'w');
  try {
    for (let done = 0; done < length;) {
      const chunk = await original.readAt(start + done, Math.min(COPY_CHUNK, length - done));
      await out.write(chunk, 0, chunk.length);
      done += chunk.length;
    }
  } catch (error) {
    await out.close();
    await fs.promises.rm(file, { force: true });
    throw error;
  }
  await out.close();
}

/**
 * `core@2`'s `motion-video`: the MP4 inside a motion photo, as its own artifact (playable, hashed, with
 * lineage naming where in the file it lay). Not a motion photo is `skipped`, not failed. The picture is
 * searched and the video copied window by window, so a motion photo of any size is extracted in a
 * megabyte or two of memory (no size cap: a long 4K clip inside a photo is still a motion photo).
 */
export const motionVideoStep: StepDefinition<z.ZodObject<Record<string, never>>> = {
  name: 'motion-video',
  tool: { name: 'archivist-embedded-mp4', version: () => Promise.resolve(EXTRACTOR_VERSION) },
  artifactKind: 'motion-video',
  mediaTypes: ['image'],
  params: z.object({}),
  async run({ asset, scratchDir }) {
    // Skipped without opening the file: a TIFF or a PSD is never a motion photo, and may be large.
    if (!MOTION_MIMES.test(asset.mime ?? ''))
      return {
        status: 'skipped',
        reason: 'not-a-motion-photo',
        message: `a ${asset.mime ?? 'picture'} is no motion photo`,
      };
    try {
      return await withOriginal(
        asset.file,
        { size: asset.size, sha256: asset.id, mtimeNs: asset.mtimeNs ?? null, inode: asset.inode ?? null },
        async (original) => {
          const video = await findEmbeddedVideoIn((at, n) => original.readAt(at, n), original.size);
          if (!video)
            return {
              status: 'skipped',
              reason: 'not-a-motion-photo',
              message: 'no embedded video in this picture',
            };
          const file = path.join(scratchDir, `motion-video-${process.pid}-${asset.id.slice(0, 16)}.mp4`);
          await copyRange(original, video.start, video.length, file);
          return {
            status: 'done',
            output: { file, mime: 'video/mp4', extension: 'mp4' },
            decoder: `embedded MP4 (brand ${video.brand.trim()}) at byte ${video.start}, ${video.length} bytes`,
          };
        },
      );
    } catch (error) {
      return failureOf(error, 'decode-error');
    }
  },
};
