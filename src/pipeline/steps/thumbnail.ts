import path from 'node:path';
import { z } from 'zod';
import type { StepContext, StepDefinition, StepOutcome } from '../step.js';
import { exiftoolVersion } from '../tools/exiftool-tool.js';
import { ffToolVersion } from '../tools/ffmpeg-run.js';
import { decodeHeif, heifDecoderVersion } from '../tools/heif-tool.js';
import {
  renderThumbnail,
  sharpVersion,
  type ImageInput,
  type Rendered,
  type RenderOptions,
} from '../tools/sharp-tool.js';
import { ToolError } from '../tools/tool.js';
import { failed, failureOf } from './failures.js';
import { isRawFile, rawPreview } from './raw-preview.js';
import { NoVideoStream, videoFrame } from './video-frame.js';

export const ThumbnailParams = z.object({
  /** Longest edge in pixels; smaller originals keep their size. */
  size: z.number().int().min(16).max(4096).default(256),
  quality: z.number().int().min(1).max(100).default(80),
  format: z.enum(['webp', 'jpeg']).default('webp'),
  /** Where in a video to take the frame, as a fraction of its duration. */
  position: z.number().min(0).max(1).default(0.1),
});
type Params = z.infer<typeof ThumbnailParams>;

/** Every tool that can shape a thumbnail is in the version, so the cache key changes with any of them. */
async function thumbnailToolVersion(): Promise<string> {
  const [sharp, ffmpeg, exiftool] = await Promise.all([
    sharpVersion(),
    ffToolVersion('ffmpeg'),
    exiftoolVersion(),
  ]);
  return [
    sharp ?? 'missing',
    `ffmpeg ${ffmpeg ?? 'missing'}`,
    heifDecoderVersion() ?? 'libheif-js missing',
    `exiftool ${exiftool ?? 'missing'}`,
  ].join(' + ');
}

const HEIF_EXTENSIONS = new Set(['heic', 'heif', 'hif', 'heics', 'heifs']);

/** libvips said it cannot read this kind of file at all, as opposed to a damaged file of a kind it reads. */
function isUnsupported(message: string): boolean {
  return /unsupported image format|not a known (file|image) format|is not in a known format|compression format has not been built in|Unsupported (codec|feature|compression)|exceeds pixel limit/i.test(
    message,
  );
}

function refusal(error: unknown): StepOutcome {
  if (error instanceof ToolError && error.kind === 'failed' && isUnsupported(error.message)) {
    return failed('unsupported-format', error.message, error.stderrTail);
  }
  return failureOf(error, 'decode-error');
}

function done(rendered: Rendered, params: Params): StepOutcome {
  return {
    status: 'done',
    output: {
      bytes: rendered.data,
      mime: params.format === 'jpeg' ? 'image/jpeg' : 'image/webp',
      extension: params.format === 'jpeg' ? 'jpg' : 'webp',
    },
  };
}

async function imageThumbnail(context: StepContext<Params>, options: RenderOptions): Promise<StepOutcome> {
  const { file, mime } = context.asset;
  const extension = path.extname(file).slice(1).toLowerCase();
  const heifByName = HEIF_EXTENSIONS.has(extension) || mime === 'image/heic' || mime === 'image/heif';
  try {
    return done(await renderThumbnail({ file }, options), context.params);
  } catch (sharpError) {
    if (!(sharpError instanceof ToolError) || sharpError.kind !== 'failed')
      return failureOf(sharpError, 'decode-error');
    // HEVC-coded HEIF (every phone's HEIC): libvips cannot, the WebAssembly libheif can.
    if (heifByName || /heif/i.test(sharpError.message)) {
      try {
        const picture = await decodeHeif(file, context.signal);
        return done(await renderThumbnail({ raw: picture }, { ...options, orientation: 1 }), context.params);
      } catch (heifError) {
        return refusal(heifError);
      }
    }
    // Formats libvips was built without (BMP, TGA, JPEG 2000...): ffmpeg decodes many still pictures.
    if (isUnsupported(sharpError.message)) {
      try {
        const frame = await videoFrame({ file, position: 0, size: options.size, signal: context.signal });
        return done(await renderThumbnail({ buffer: frame.png }, options), context.params);
      } catch {
        return refusal(sharpError);
      }
    }
    return refusal(sharpError);
  }
}

export const thumbnailStep: StepDefinition<typeof ThumbnailParams> = {
  name: 'thumbnail',
  tool: { name: 'sharp', version: thumbnailToolVersion },
  artifactKind: 'thumbnail',
  mediaTypes: ['image', 'video'],
  params: ThumbnailParams,
  async run(context) {
    const { asset, params, signal } = context;
    const options: RenderOptions = { size: params.size, quality: params.quality, format: params.format };
    if (asset.mediaType === 'video') {
      try {
        const frame = await videoFrame({
          file: asset.file,
          position: params.position,
          size: params.size,
          signal,
        });
        // The frame is upright already (ffmpeg applied the display matrix); its PNG carries no orientation.
        return done(await renderThumbnail({ buffer: frame.png }, options), params);
      } catch (error) {
        if (error instanceof NoVideoStream) return failed('unsupported-format', error.message);
        if (
          error instanceof ToolError &&
          error.kind === 'failed' &&
          /Decoder \(codec [^)]*\) not found|Unknown decoder|Unsupported codec|codec not currently supported/i.test(
            `${error.message}\n${error.stderrTail ?? ''}`,
          )
        ) {
          return failed('unsupported-format', error.message, error.stderrTail);
        }
        return failureOf(error, 'decode-error');
      }
    }
    if (isRawFile(asset.file, asset.mime)) {
      let preview: { input: ImageInput; orientation: number };
      try {
        preview = await rawPreview(asset.file, signal);
      } catch (error) {
        return failureOf(error, 'unsupported-format');
      }
      try {
        return done(
          await renderThumbnail(preview.input, { ...options, orientation: preview.orientation }),
          params,
        );
      } catch (error) {
        return refusal(error);
      }
    }
    return imageThumbnail(context, options);
  },
};
