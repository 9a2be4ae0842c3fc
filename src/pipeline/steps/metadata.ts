import path from 'node:path';
import { z } from 'zod';
import { withOriginal, type OriginalFile } from '../../catalog/original-file.js';
import type { StepContext, StepDefinition, StepOutcome } from '../step.js';
import { exiftoolVersion, readTags, type RawTags } from '../tools/exiftool-tool.js';
import { ffToolVersion } from '../tools/ffmpeg-run.js';
import { mainVideoStream, probeMedia, type FfprobeResult } from '../tools/ffprobe.js';
import { tailOf, ToolError } from '../tools/tool.js';
import { CAPTURE_TAGS } from './capture-time.js';
import { failed, failureOf } from './failures.js';
import { normalizeMetadata, type MetadataInput } from './normalize-metadata.js';

const MetadataParams = z.object({});

/** Both tools shape the artifact, so both versions are in the cache key: a new ffprobe recomputes. */
async function metadataToolVersion(): Promise<string> {
  const [exiftool, ffprobe] = await Promise.all([exiftoolVersion(), ffToolVersion('ffprobe')]);
  return `${exiftool ?? 'missing'} + ffprobe ${ffprobe ?? 'missing'}`;
}

/**
 * File types that hold pictures or sound and pictures, as exiftool names their MIME types: image/* and
 * video/*, plus the few it files under application/ (Photoshop, MXF, ASF/WMV).
 */
function isMediaMime(mime: unknown): boolean {
  return (
    typeof mime === 'string' &&
    (/^(image|video)\//.test(mime) ||
      /^application\/(mxf|vnd\.adobe\.photoshop|x-photoshop|vnd\.ms-asf)$/.test(mime))
  );
}

/**
 * exiftool read the original through /proc/<pid>/fd/<n> (see original-file.ts): its own file-name tags
 * name the descriptor; put back the names a person knows the file by.
 */
function withCatalogName(tags: RawTags, file: string): RawTags {
  const named: RawTags = { ...tags };
  if ('SourceFile' in named) named.SourceFile = file;
  if ('File:FileName' in named) named['File:FileName'] = path.basename(file);
  if ('File:Directory' in named) named['File:Directory'] = path.dirname(file);
  return named;
}

/**
 * Why a file has no metadata worth recording, or null when it has some. A file exiftool cannot parse,
 * or that is not media at all, fails; a file with anything real in it (a size, a date, a camera)
 * succeeds with what is there.
 */
function unreadable(
  tags: RawTags,
  isVideo: boolean,
  probe: FfprobeResult | null,
  probeError?: string,
): string | null {
  const error = tags['ExifTool:Error'];
  if (typeof error === 'string') return `exiftool: ${error}`;
  const type = tags['File:FileType'];
  if (typeof type !== 'string') return 'exiftool does not recognise the file type';
  const mime = tags['File:MIMEType'];
  if (!isMediaMime(mime)) {
    return `not a media file: exiftool reads it as ${type} (${typeof mime === 'string' ? mime : 'no MIME type'})`;
  }
  const warning =
    typeof tags['ExifTool:Warning'] === 'string' ? `; exiftool: ${tags['ExifTool:Warning']}` : '';
  if (isVideo) {
    // exiftool names a video's frame size in its container's group (QuickTime, RIFF, Matroska, M2TS...).
    const hasVideo =
      (probe && mainVideoStream(probe)) || Object.keys(tags).some((key) => key.endsWith(':ImageWidth'));
    if (!hasVideo) return `no readable video stream (ffprobe: ${probeError ?? 'no video stream'}${warning})`;
    return null;
  }
  const hasSize = [
    'Composite:ImageSize',
    'File:ImageWidth',
    'PNG:ImageWidth',
    'EXIF:ExifImageWidth',
    'QuickTime:ImageWidth',
  ].some((key) => tags[key] !== undefined);
  const hasFacts = Object.keys(tags).some((key) => {
    const name = key.slice(key.lastIndexOf(':') + 1);
    return (CAPTURE_TAGS as readonly string[]).includes(name) || name === 'Make' || name === 'Model';
  });
  return hasSize || hasFacts ? null : `no readable metadata (${type}${warning})`;
}

/** Turns what the tools read into the artifact's JSON: one per pipeline version's metadata schema. */
export type Normalizer = (input: MetadataInput, context: StepContext<unknown>) => Promise<unknown>;

/**
 * The metadata step with a given normalizer: `core@1`'s (below) and `core@2`'s (metadata-v2.ts) read the
 * file the same way and differ only in what they make of it.
 */
export function makeMetadataStep(options: {
  toolVersion: () => Promise<string>;
  normalize: Normalizer;
  readsSidecars?: boolean;
}): StepDefinition<typeof MetadataParams> {
  return {
    name: 'metadata',
    tool: { name: 'exiftool', version: options.toolVersion },
    artifactKind: 'metadata',
    mediaTypes: ['image', 'video'],
    params: MetadataParams,
    ...(options.readsSidecars ? { readsSidecars: true } : {}),
    async run(context) {
      const { asset } = context;
      try {
        // Opened once, checked against the catalog, and read by exiftool and ffprobe through this descriptor.
        return await withOriginal(
          asset.file,
          { size: asset.size, sha256: asset.id, mtimeNs: asset.mtimeNs ?? null, inode: asset.inode ?? null },
          (original) => metadataOf(context, original, options.normalize),
        );
      } catch (error) {
        return failureOf(error, 'no-metadata');
      }
    },
  };
}

export const metadataStep = makeMetadataStep({
  toolVersion: metadataToolVersion,
  normalize: (input) => Promise.resolve(normalizeMetadata(input)),
});

/** The version of the tools the step runs (both shape the artifact): exported for core@2's key. */
export { metadataToolVersion };

async function metadataOf(
  context: StepContext<unknown>,
  original: OriginalFile,
  normalize: Normalizer,
): Promise<StepOutcome> {
  const { asset, signal, scratchDir } = context;
  let tags: RawTags;
  try {
    tags = withCatalogName(await readTags({ original, scratchDir }, signal), asset.file);
  } catch (error) {
    return failureOf(error, 'no-metadata');
  }

  const isVideo = asset.mediaType === 'video';
  let probe: FfprobeResult | null = null;
  let probeError: string | undefined;
  let probeTail: string | undefined;
  let probeMissing: ToolError | undefined;
  if (isVideo) {
    try {
      probe = await probeMedia({ fd: original.fd }, signal);
    } catch (error) {
      if (error instanceof ToolError && error.kind === 'aborted') return failureOf(error, 'no-metadata');
      // A missing ffprobe or a stream it cannot read still leaves exiftool's view of the file.
      probeError = error instanceof Error ? error.message.replace(/^ffprobe: /, '') : String(error);
      probeTail = error instanceof ToolError ? error.stderrTail : undefined;
      if (error instanceof ToolError && error.kind === 'missing') probeMissing = error;
    }
  }

  const why = unreadable(tags, isVideo, probe, probeError);
  if (why && probeMissing) {
    // Without ffprobe this video could not be read; with it, it may well be: say what to install.
    return failureOf(probeMissing, 'no-metadata');
  }
  if (why) {
    const warnings =
      typeof tags['ExifTool:Warning'] === 'string' ? `exiftool: ${tags['ExifTool:Warning']}` : '';
    return failed('no-metadata', why, tailOf([probeTail ?? '', warnings].join('\n')) || undefined);
  }
  const metadata = await normalize(
    { tags, mediaType: asset.mediaType, mime: asset.mime, probe, ...(probeError ? { probeError } : {}) },
    context,
  );
  return {
    status: 'done',
    output: {
      bytes: Buffer.from(`${JSON.stringify(metadata, null, 2)}\n`),
      mime: 'application/json',
      extension: 'json',
    },
    decoder: isVideo
      ? `exiftool ${(await exiftoolVersion()) ?? '?'} + ffprobe ${probe ? ((await ffToolVersion('ffprobe')) ?? '?') : 'failed'}`
      : `exiftool ${(await exiftoolVersion()) ?? '?'}`,
  };
}
