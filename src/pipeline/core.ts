import type { PipelineDefinition } from './step.js';
import { metadataStep } from './steps/metadata.js';
import { metadataV2Step } from './steps/metadata-v2.js';
import { motionVideoStep } from './steps/motion-video.js';
import { previewStep } from './steps/preview.js';
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

/**
 * `core@2` (PRODUCT section 4b): `core@1`'s steps with the metadata of schema 2 (a capture time that is
 * never wrong, sidecars as inputs), a large `preview`, and the video inside a motion photo. `core@1` and
 * its artifacts stay; the two can run on one collection and be compared.
 */
export const core2Pipeline: PipelineDefinition = {
  name: 'core',
  version: 2,
  // Run as `core@2` for now: `core` stays core@1 until the switch is made on purpose (scripts, docs, and
  // the other branches' tests expect core@1's two steps).
  pickedByName: false,
  description:
    'core@1 plus capture time with its zone source, XMP and Takeout sidecars, a 1440 px preview and motion-photo videos',
  steps: [metadataV2Step, thumbnailStep, previewStep, motionVideoStep],
};
