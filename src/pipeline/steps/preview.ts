import { z } from 'zod';
import type { StepDefinition } from '../step.js';
import { thumbnailStep } from './thumbnail.js';

export const PreviewParams = z.object({
  /** Longest edge in pixels, large enough for a viewer; smaller originals keep their size. */
  size: z.number().int().min(16).max(8192).default(1440),
  quality: z.number().int().min(1).max(100).default(82),
  format: z.enum(['jpeg', 'webp']).default('jpeg'),
  /** Where in a video to take the frame, as a fraction of its duration. */
  position: z.number().min(0).max(1).default(0.1),
});

/**
 * `core@2`'s `preview`: the thumbnail's decoders (libvips, native or WASM libheif, the RAW's embedded
 * JPEG through exiftool, an ffmpeg frame) at a size a viewer can show large and sharp. The same code
 * path on purpose: a format the thumbnail reads, the preview reads, and lineage names the same chain.
 */
export const previewStep: StepDefinition<typeof PreviewParams> = {
  name: 'preview',
  tool: thumbnailStep.tool,
  artifactKind: 'preview',
  mediaTypes: ['image', 'video'],
  params: PreviewParams,
  run: (context) => thumbnailStep.run(context),
};
