import { runFfTool, withFfInput, type FfSource } from './ffmpeg-run.js';
import { ToolError } from './tool.js';

/** The parts of `ffprobe -show_format -show_streams` JSON that Archivist reads; the rest is kept as is. */
export interface FfprobeStream {
  index: number;
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  bit_rate?: string;
  duration?: string;
  channels?: number;
  sample_rate?: string;
  disposition?: Record<string, number>;
  tags?: Record<string, string>;
  side_data_list?: { side_data_type?: string; rotation?: number }[];
}

export interface FfprobeResult {
  streams?: FfprobeStream[];
  format?: { format_name?: string; duration?: string; bit_rate?: string; tags?: Record<string, string> };
}

/** Probes a media file; a file ffprobe cannot open rejects with a `failed` ToolError carrying its stderr. */
export async function probeMedia(source: FfSource, signal: AbortSignal): Promise<FfprobeResult> {
  const { stdout } = await withFfInput(source, (input) =>
    runFfTool(
      'ffprobe',
      ['-v', 'error', '-hide_banner', '-print_format', 'json', '-show_format', '-show_streams', '-i', input],
      { signal, maxStdoutBytes: 16 * 1024 * 1024, input },
    ),
  );
  try {
    const probe = JSON.parse(stdout.toString('utf8')) as FfprobeResult & { format?: { filename?: string } };
    // ffprobe names its input: here the one-off loopback URL the original was served at, which changes
    // every run and says nothing about the file. Kept, it would make the same file's metadata differ.
    if (probe.format) delete probe.format.filename;
    return probe;
  } catch (error) {
    throw new ToolError('ffprobe', 'failed', 'ffprobe printed something that is not JSON', { cause: error });
  }
}

/** The picture stream: the first video stream that is not a cover image attached to the file. */
export function mainVideoStream(probe: FfprobeResult): FfprobeStream | undefined {
  return probe.streams?.find((s) => s.codec_type === 'video' && s.disposition?.attached_pic !== 1);
}

export function mainAudioStream(probe: FfprobeResult): FfprobeStream | undefined {
  return probe.streams?.find((s) => s.codec_type === 'audio');
}

/**
 * Clockwise degrees to turn the stored picture for display: 0, 90, 180 or 270. Newer ffmpeg reports the
 * display matrix as side data (counter-clockwise, so -90 means 90 clockwise); older ones a `rotate` tag.
 */
export function displayRotation(stream: FfprobeStream | undefined): number {
  if (!stream) return 0;
  const matrix = stream.side_data_list?.find((d) => typeof d.rotation === 'number');
  const degrees = matrix ? -(matrix.rotation ?? 0) : Number(stream.tags?.rotate ?? 0);
  if (!Number.isFinite(degrees)) return 0;
  const normalized = (((Math.round(degrees / 90) * 90) % 360) + 360) % 360;
  return normalized;
}

/** `30000/1001` → 29.97; `0/0` (unknown) → null. */
export function frameRate(text: string | undefined): number | null {
  if (!text) return null;
  const [num, den] = text.split('/').map(Number);
  if (!num || !den || !Number.isFinite(num / den)) return null;
  return Math.round((num / den) * 1000) / 1000;
}
