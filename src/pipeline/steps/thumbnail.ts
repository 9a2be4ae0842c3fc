import path from 'node:path';
import { z } from 'zod';
import { withOriginal, type OriginalFile } from '../../catalog/original-file.js';
import type { StepContext, StepDefinition, StepOutcome } from '../step.js';
import { exiftoolVersion } from '../tools/exiftool-tool.js';
import { REFUSED_DEMUXER } from '../tools/ff-confinement.js';
import { ffToolVersion } from '../tools/ffmpeg-run.js';
import { heifDecoderVersion } from '../tools/heif-tool.js';
import { renderThumbnail, sharpLabel, sharpVersion, type RenderOptions } from '../tools/sharp-tool.js';
import { tailOf, ToolError } from '../tools/tool.js';
import { nativeVips, nativeVipsLabel } from '../tools/vips-cli.js';
import { failed, failureOf } from './failures.js';
import { isUnsupported, pictureThumbnail, Refusal, type Made } from './picture-decoders.js';
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

/**
 * The run-level version in the cache key: every decoder the step may choose between, with its version,
 * and whether the native HEIC path is there at all. Which one made a given thumbnail follows from these
 * and the file, so a changed or newly installed decoder is a new key (a new artifact, never a silent
 * reuse); the lineage of each artifact names the chain that actually ran (`decoder`).
 */
async function thumbnailToolVersion(): Promise<string> {
  const [sharp, ffmpeg, exiftool, vips] = await Promise.all([
    sharpVersion(),
    ffToolVersion('ffmpeg'),
    exiftoolVersion(),
    nativeVips(),
  ]);
  return [
    sharp ?? 'missing',
    vips ? nativeVipsLabel(vips) : 'vipsthumbnail missing',
    `ffmpeg ${ffmpeg ?? 'missing'}`,
    heifDecoderVersion() ?? 'libheif-js missing',
    `exiftool ${exiftool ?? 'missing'}`,
  ].join(' + ');
}

const HEIF_EXTENSIONS = new Set(['heic', 'heif', 'hif', 'heics', 'heifs', 'avif']);

function done(made: Made, params: Params): StepOutcome {
  return {
    status: 'done',
    output: {
      bytes: made.rendered.data,
      mime: params.format === 'jpeg' ? 'image/jpeg' : 'image/webp',
      extension: params.format === 'jpeg' ? 'jpg' : 'webp',
    },
    decoder: made.decoder,
  };
}

/** Every decoder that was tried and what it said, classified by the most telling answer. */
function refusalOutcome(refusal: Refusal): StepOutcome {
  if (refusal.tooLarge) return { ...failed('too-large', refusal.tooLarge), retryable: false };
  const { errors } = refusal;
  const stderrTail = tailOf(errors.map((e) => e.stderrTail ?? '').join('\n')) || undefined;
  if (errors.length > 0 && errors.every((e) => e.kind === 'missing')) {
    return { ...failed('tool-missing', refusal.message, stderrTail), retryable: false };
  }
  const damaged = errors.some((e) => e.kind === 'failed' && !isUnsupported(e.message));
  const outcome = failed(damaged ? 'decode-error' : 'unsupported-format', refusal.message, stderrTail);
  // A decoder that died (killed, out of memory) has not refused the file: the item is tried again.
  return errors.some((e) => e.retryable) ? { ...outcome, retryable: true } : outcome;
}

async function videoThumbnail(
  original: OriginalFile,
  params: Params,
  options: RenderOptions,
  signal: AbortSignal,
) {
  try {
    const frame = await videoFrame({
      source: { fd: original.fd },
      position: params.position,
      size: params.size,
      signal,
    });
    // The frame is upright already (ffmpeg applied the display matrix); its PNG carries no orientation.
    const rendered = await renderThumbnail({ buffer: frame.png }, options);
    const ffmpeg = (await ffToolVersion('ffmpeg')) ?? '?';
    return done(
      {
        rendered,
        decoder: `ffmpeg ${ffmpeg} frame at ${frame.at.toFixed(1)} s → ${await sharpLabel(false)}`,
      },
      params,
    );
  } catch (error) {
    if (error instanceof NoVideoStream) return failed('unsupported-format', error.message);
    // A playlist, a manifest or a list of files (ff-confinement.ts): not a video Archivist reads.
    if (error instanceof ToolError && REFUSED_DEMUXER.test(error.message))
      return { ...failed('unsupported-format', error.message, error.stderrTail), retryable: false };
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

async function rawThumbnail(
  original: OriginalFile,
  params: Params,
  options: RenderOptions,
  context: StepContext<Params>,
) {
  let preview: Awaited<ReturnType<typeof rawPreview>>;
  try {
    preview = await rawPreview({ original, scratchDir: context.scratchDir }, context.signal);
  } catch (error) {
    return failureOf(error, 'unsupported-format');
  }
  try {
    const rendered = await renderThumbnail(preview.input, { ...options, orientation: preview.orientation });
    const exiftool = (await exiftoolVersion()) ?? '?';
    return done(
      { rendered, decoder: `exiftool ${exiftool} ${preview.tag} → ${await sharpLabel(true)}` },
      params,
    );
  } catch (error) {
    if (error instanceof ToolError && error.kind === 'failed' && /exceeds pixel limit/i.test(error.message)) {
      return { ...failed('too-large', `the embedded preview: ${error.message}`), retryable: false };
    }
    return failureOf(
      error,
      isUnsupported(String((error as Error).message)) ? 'unsupported-format' : 'decode-error',
    );
  }
}

async function stillThumbnail(context: StepContext<Params>, original: OriginalFile, options: RenderOptions) {
  const { file, mime } = context.asset;
  const extension = path.extname(file).slice(1).toLowerCase();
  try {
    const made = await pictureThumbnail(original, options, {
      signal: context.signal,
      scratchDir: context.scratchDir,
      heifByName: HEIF_EXTENSIONS.has(extension) || /^image\/(heic|heif|avif)/.test(mime ?? ''),
    });
    return done(made, context.params);
  } catch (error) {
    if (error instanceof Refusal) return refusalOutcome(error);
    return failureOf(error, 'decode-error');
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
    try {
      // Opened once, checked against the catalog, and handed to every tool only as this descriptor.
      return await withOriginal(
        asset.file,
        { size: asset.size, sha256: asset.id, mtimeNs: asset.mtimeNs ?? null, inode: asset.inode ?? null },
        (original) => {
          if (asset.mediaType === 'video') return videoThumbnail(original, params, options, signal);
          if (isRawFile(asset.file, asset.mime)) return rawThumbnail(original, params, options, context);
          return stillThumbnail(context, original, options);
        },
      );
    } catch (error) {
      return failureOf(error, 'decode-error');
    }
  },
};
