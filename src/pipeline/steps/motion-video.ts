import { z } from 'zod';
import { withOriginal } from '../../catalog/original-file.js';
import type { StepDefinition } from '../step.js';
import { findEmbeddedVideo } from './embedded-video.js';
import { failureOf } from './failures.js';

/** Pictures larger than this are not motion photos a phone made: not read whole into memory. */
const MAX_BYTES = 128 * 1024 * 1024;

/** Motion photos are JPEGs (Google MicroVideo / Motion Photo, Samsung) or HEIFs (newer phones). */
const MOTION_MIMES = /^image\/(jpeg|heic|heif)/;

/** This extractor's own version: bump it when what it extracts changes (it is in the cache key). */
const EXTRACTOR_VERSION = '1';

/**
 * `core@2`'s `motion-video`: the MP4 inside a motion photo, as its own artifact (playable, hashed, with
 * lineage naming where in the file it lay). Not a motion photo is `skipped`, not failed.
 */
export const motionVideoStep: StepDefinition<z.ZodObject<Record<string, never>>> = {
  name: 'motion-video',
  tool: { name: 'archivist-embedded-mp4', version: () => Promise.resolve(EXTRACTOR_VERSION) },
  artifactKind: 'motion-video',
  mediaTypes: ['image'],
  params: z.object({}),
  async run({ asset }) {
    // Skipped without opening the file: a TIFF or a PSD is never a motion photo, and may be large.
    if (!MOTION_MIMES.test(asset.mime ?? ''))
      return {
        status: 'skipped',
        reason: 'not-a-motion-photo',
        message: `a ${asset.mime ?? 'picture'} is no motion photo`,
      };
    if (asset.size > MAX_BYTES)
      return { status: 'skipped', reason: 'not-a-motion-photo', message: 'too large for a motion photo' };
    try {
      return await withOriginal(
        asset.file,
        { size: asset.size, sha256: asset.id, mtimeNs: asset.mtimeNs ?? null, inode: asset.inode ?? null },
        async (original) => {
          const data = await original.read();
          const video = findEmbeddedVideo(data);
          if (!video)
            return {
              status: 'skipped',
              reason: 'not-a-motion-photo',
              message: 'no embedded video in this picture',
            };
          return {
            status: 'done',
            output: { bytes: Buffer.from(data.subarray(video.start)), mime: 'video/mp4', extension: 'mp4' },
            decoder: `embedded MP4 (brand ${video.brand.trim()}) at byte ${video.start}, ${video.length} bytes`,
          };
        },
      );
    } catch (error) {
      return failureOf(error, 'decode-error');
    }
  },
};
