import type { RawTags } from '../tools/exiftool-tool.js';
import {
  displayRotation,
  frameRate,
  mainAudioStream,
  mainVideoStream,
  type FfprobeResult,
} from '../tools/ffprobe.js';
import type { NormalizedMetadata } from './normalize-metadata.js';
import { integer, pick, positive, text } from './tag-values.js';

/**
 * The video half of the metadata: ffprobe's view of the streams (it decodes them, so it knows), with
 * exiftool's view of the QuickTime tracks as the fallback when ffprobe is missing or cannot read the file.
 */

/** QuickTime four-character codes as ffprobe names the codecs, for when only exiftool could read a video. */
const FOURCC: Record<string, string> = {
  avc1: 'h264',
  avc3: 'h264',
  hvc1: 'hevc',
  hev1: 'hevc',
  mp4v: 'mpeg4',
  av01: 'av1',
  vp09: 'vp9',
  jpeg: 'mjpeg',
  mjpa: 'mjpeg',
  apch: 'prores',
  apcn: 'prores',
  apcs: 'prores',
  apco: 'prores',
  ap4h: 'prores',
  mp4a: 'aac',
  'ac-3': 'ac3',
  sowt: 'pcm_s16le',
  twos: 'pcm_s16be',
  lpcm: 'pcm',
};
const codecOf = (fourcc: unknown) => {
  const code = text(fourcc)?.toLowerCase();
  return code ? (FOURCC[code] ?? code) : null;
};

/**
 * A stream without its own bit rate (Matroska) gets the file's: the best figure there is. A stream rate
 * above the whole file's is a header's maximum (MPEG-1 writes one), not a measurement.
 */
function streamBitRate(stream: unknown, file: unknown): number | null {
  const own = integer(stream);
  const overall = integer(file);
  return own !== null && (overall === null || own <= overall) ? own : overall;
}

export function videoFacts(
  tags: RawTags,
  probe: FfprobeResult | null,
): Pick<NormalizedMetadata, 'durationSec' | 'container' | 'video' | 'audio'> {
  const stream = probe ? mainVideoStream(probe) : undefined;
  const sound = probe ? mainAudioStream(probe) : undefined;
  const duration =
    positive(probe?.format?.duration) ??
    positive(stream?.duration) ??
    positive(
      pick(tags, [
        'QuickTime:Duration',
        'Composite:Duration',
        'RIFF:Duration',
        'Matroska:Duration',
        'M2TS:Duration',
      ]),
    );
  const container =
    text(tags['File:FileType'])?.toLowerCase() ?? text(probe?.format?.format_name?.split(',')[0]);
  const exifRotation = Number(tags['Composite:Rotation'] ?? tags['QuickTime:Rotation'] ?? 0);
  const video = stream
    ? {
        codec: text(stream.codec_name),
        width: integer(stream.width),
        height: integer(stream.height),
        fps: frameRate(stream.avg_frame_rate) ?? frameRate(stream.r_frame_rate),
        bitRate: streamBitRate(stream.bit_rate, probe?.format?.bit_rate),
        rotation: displayRotation(stream),
      }
    : probe === null &&
        (tags['QuickTime:ImageWidth'] !== undefined || tags['QuickTime:CompressorID'] !== undefined)
      ? {
          // ffprobe could not read it (or is missing): what exiftool saw of the video track.
          codec: codecOf(tags['QuickTime:CompressorID']),
          width: integer(tags['QuickTime:ImageWidth']),
          height: integer(tags['QuickTime:ImageHeight']),
          fps: positive(tags['QuickTime:VideoFrameRate']),
          bitRate: integer(pick(tags, ['QuickTime:AverageBitrate', 'Composite:AvgBitrate'])),
          rotation: [90, 180, 270].includes(exifRotation) ? exifRotation : 0,
        }
      : null;
  const audio = sound
    ? {
        codec: text(sound.codec_name),
        channels: integer(sound.channels),
        sampleRate: integer(sound.sample_rate),
      }
    : probe === null && tags['QuickTime:AudioFormat'] !== undefined
      ? {
          codec: codecOf(tags['QuickTime:AudioFormat']),
          channels: integer(tags['QuickTime:AudioChannels']),
          sampleRate: integer(tags['QuickTime:AudioSampleRate']),
        }
      : null;
  return {
    durationSec: duration === null ? null : Math.round(duration * 1000) / 1000,
    container,
    video,
    audio,
  };
}
