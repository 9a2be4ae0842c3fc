import type { PipelineDefinition } from './step.js';
import { metadataStep } from './steps/metadata.js';
import { thumbnailStep } from './steps/thumbnail.js';

/**
 * `core@1` (PRODUCT section 4): technical metadata and a thumbnail for every image and video. The two
 * steps are independent on purpose: a file whose tags are unreadable may still have a picture, and a
 * picture no decoder reads still has tags.
 */
export const corePipeline: PipelineDefinition = {
  name: 'core',
  version: 1,
  description:
    'technical metadata (exiftool, ffprobe) and a thumbnail (sharp, libheif, ffmpeg) of every image and video',
  steps: [metadataStep, thumbnailStep],
};
