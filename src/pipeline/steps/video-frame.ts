import { ffThreads, runFfTool, withFfInput, type FfSource } from '../tools/ffmpeg-run.js';
import { mainVideoStream, probeMedia, type FfprobeResult } from '../tools/ffprobe.js';
import { lumaStats } from '../tools/sharp-tool.js';
import { ToolError } from '../tools/tool.js';

/**
 * One representative frame of a video, as a PNG no larger than the thumbnail: ffmpeg seeks to
 * `position` of the duration, applies the display rotation (its default autorotate: a portrait phone
 * video gives a portrait frame), makes pixels square, deinterlaces camcorder footage, and scales.
 * A frame that is almost uniformly black (a fade-in, a lens cap) is replaced by a better one nearby.
 */

/** Below both, a frame is "black": dark on average and without detail (a dark scene still has some). */
const BLACK_MEAN = 16;
const BLACK_STDEV = 8;
/** Frames tried at most: each is one ffmpeg seek-and-decode. */
const MAX_TRIES = 5;

export class NoVideoStream extends Error {}

export interface GrabbedFrame {
  png: Buffer;
  /** Seconds into the video. */
  at: number;
  black: boolean;
}

/** Seconds to try, best first: the asked position, then a little later, then a little earlier. */
export function candidateTimes(duration: number | null, position: number): number[] {
  if (!duration || duration <= 0) return [0, 1, 2, 4];
  const last = Math.max(0, duration - 0.05);
  const first = Math.min(position * duration, last);
  const step = Math.min(10, Math.max(0.5, duration * 0.05));
  const times = [first];
  for (let k = 1; times.length < MAX_TRIES && k <= MAX_TRIES; k++) {
    if (first + k * step <= last) times.push(first + k * step);
    if (times.length < MAX_TRIES && first - k * step >= 0) times.push(first - k * step);
  }
  return times;
}

async function grab(
  source: FfSource,
  stream: number,
  at: number,
  size: number,
  signal: AbortSignal,
): Promise<Buffer> {
  const filters = [
    // Only frames flagged interlaced are touched (MTS/MPEG-2 camcorder footage).
    'yadif=deint=interlaced',
    // Anamorphic pixels (DV, HDV) made square before scaling.
    'scale=trunc(iw*sar/2)*2:ih',
    'setsar=1',
    `scale=w='min(iw,${size})':h='min(ih,${size})':force_original_aspect_ratio=decrease:flags=lanczos`,
  ].join(',');
  const args = (input: string) => [
    ...['-hide_banner', '-nostdin', '-v', 'error', '-threads', ffThreads()],
    // Before -i: a fast seek to the keyframe before `at`, then decoding up to it exactly.
    ...['-ss', at.toFixed(3), '-i', input],
    ...['-map', `0:${stream}`, '-frames:v', '1', '-an', '-sn', '-dn'],
    ...['-vf', filters, '-f', 'image2pipe', '-c:v', 'png', '-'],
  ];
  const { stdout } = await withFfInput(source, (input) =>
    runFfTool('ffmpeg', args(input), { signal, maxStdoutBytes: 64 * 1024 * 1024, input }),
  );
  return stdout;
}

export interface FrameRequest {
  /** The original's descriptor, or a path of our own. */
  source: FfSource;
  position: number;
  size: number;
  signal: AbortSignal;
  /** A probe already made by the caller, to save one. */
  probe?: FfprobeResult;
}

/**
 * The chosen frame. Rejects with NoVideoStream for a file without pictures, and with ffmpeg's ToolError
 * when no frame at all can be decoded.
 */
export async function videoFrame(request: FrameRequest): Promise<GrabbedFrame> {
  const probe = request.probe ?? (await probeMedia(request.source, request.signal));
  const stream = mainVideoStream(probe);
  if (!stream) throw new NoVideoStream('the file has no video stream');
  const duration = Number(probe.format?.duration ?? stream.duration);
  const times = candidateTimes(Number.isFinite(duration) ? duration : null, request.position);

  let best: GrabbedFrame | null = null;
  let lastError: Error | null = null;
  for (const at of times) {
    let png: Buffer;
    try {
      png = await grab(request.source, stream.index, at, request.size, request.signal);
    } catch (error) {
      if (error instanceof ToolError && error.kind !== 'failed') throw error;
      // A damaged stretch of the file: another position may still decode.
      lastError = error instanceof Error ? error : new Error(String(error));
      continue;
    }
    // Past the last decodable frame ffmpeg writes nothing and still exits 0.
    if (png.length === 0) continue;
    const { mean, stdev } = await lumaStats(png);
    const frame = { png, at, black: mean < BLACK_MEAN && stdev < BLACK_STDEV };
    if (!frame.black) return frame;
    best ??= frame;
  }
  if (best) return best;
  if (lastError) throw lastError;
  // Seeks past the end on every try: the start is the one frame any decodable video has.
  const png = await grab(request.source, stream.index, 0, request.size, request.signal);
  if (png.length === 0) throw new ToolError('ffmpeg', 'failed', 'ffmpeg: no frame could be decoded');
  return { png, at: 0, black: false };
}
