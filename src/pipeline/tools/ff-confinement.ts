/**
 * What ffmpeg and ffprobe may open while they read one original: that one input, nothing else.
 *
 * An original is untrusted input. Several of ffmpeg's demuxers follow references found inside a file:
 * an HLS playlist (`#EXTM3U`) or a DASH/IMF manifest fetches the URLs it lists, an `ffconcat` file opens
 * the files it names, an SDP file listens on the ports it names, Magic Lantern's MLV opens its sibling
 * files. ffmpeg picks its demuxer by content, not by name, so a playlist renamed `holiday.mp4` is read as
 * a playlist: it could make a worker contact any host or port the machine reaches, or read local files
 * and put them into a thumbnail. Two limits, both on every input (see confinedInput):
 *
 * - `-protocol_whitelist`: an original is served over loopback HTTP (descriptor-http.ts), so only `http`
 *   and the `tcp` under it; a path of our own (a test file, an artifact) only `file`. Nested opens inherit
 *   the list, so `file:`, `udp:`, `rtp:`, `crypto:`, `subfile:`, `concat:` and the rest are refused.
 * - `-format_whitelist`: the demuxers of the containers Archivist reads (camera, phone and editing
 *   formats, and the still-picture decoders of the ffmpeg fallback). The reference-following ones are
 *   not on it, so such a file is refused before its header is read, and the item fails as
 *   `unsupported-format` naming the demuxer (protocol limits alone would still let a playlist fetch
 *   other `http:` URLs, on loopback or beyond).
 *
 * A QuickTime file's external data references (`dref` aliases) are left off by ffmpeg's default
 * (`enable_drefs` 0), and would anyway only reach the same loopback server, which serves one path.
 */

/** Video containers (ffmpeg matches each comma-separated part of a demuxer's name, as `mov,mp4,...`). */
const VIDEO_DEMUXERS = [
  'mov', // MP4, MOV, M4V, 3GP, 3G2, MJ2
  'matroska', // MKV, WebM
  'avi',
  'mpegts', // MTS, M2TS, TS, TOD
  'mpeg', // MPEG program streams: MPG, VOB, MOD
  'mpegvideo',
  'asf', // WMV, ASF
  'dv', // DV, DIF
  'flv',
  'ogg',
  'mxf',
  'gxf',
  'nut',
  'rm',
  'wtv',
  'nuv',
  'ivf',
  'obu',
  'h264',
  'hevc',
  'm4v',
  'vc1',
  'mjpeg',
  'r3d',
];

/** Still pictures ffmpeg decodes when libvips cannot (the `ffmpeg still` fallback: PSD, BMP, ...). */
const STILL_DEMUXERS = [
  'psd_pipe',
  'bmp_pipe',
  'png_pipe',
  'apng',
  'jpeg_pipe',
  'jpegls_pipe',
  'jpegxl_pipe',
  'webp_pipe',
  'tiff_pipe',
  'gif',
  'gif_pipe',
  'ico',
  'dds_pipe',
  'dpx_pipe',
  'exr_pipe',
  'j2k_pipe',
  'pam_pipe',
  'pbm_pipe',
  'pcx_pipe',
  'pfm_pipe',
  'pgm_pipe',
  'pgx_pipe',
  'phm_pipe',
  'photocd_pipe',
  'pictor_pipe',
  'ppm_pipe',
  'qdraw_pipe',
  'qoi_pipe',
  'sgi_pipe',
  'sunrast_pipe',
  'vbn_pipe',
  'xbm_pipe',
  'xpm_pipe',
  'xwd_pipe',
  'gem_pipe',
  'cri_pipe',
  'alias_pix',
  'brender_pix',
];

export const FF_DEMUXERS: readonly string[] = [...VIDEO_DEMUXERS, ...STILL_DEMUXERS];

/**
 * The input options that confine one input, to be placed right before its `-i`: an HTTP URL (the
 * loopback server of an original) may use http over tcp, anything else is a file of our own.
 */
export function confinementOptions(input: string): string[] {
  const protocols = /^http:\/\//.test(input) ? 'http,tcp' : 'file';
  return ['-protocol_whitelist', protocols, '-format_whitelist', FF_DEMUXERS.join(',')];
}

/**
 * The arguments with the confinement inserted before `-i <input>`. Every ffmpeg/ffprobe run goes
 * through here (runFfTool), so no caller can forget it; an argument list without `-i <input>` is a
 * programming error, refused rather than run unconfined.
 */
export function confinedArgs(args: readonly string[], input: string): string[] {
  const at = args.findIndex((arg, i) => arg === '-i' && args[i + 1] === input);
  if (at < 0) throw new Error(`ffmpeg arguments without "-i ${input}": refused, an input must be confined`);
  return [...args.slice(0, at), ...confinementOptions(input), ...args.slice(at)];
}

/**
 * ffmpeg's answer when the content is of a demuxer off the list (`[hls @ 0x…] Format not on whitelist
 * '<the whole list>'`), as the one-line verdict of the failure: what the file is and why it is not read,
 * ending in "unsupported format" (isUnsupported in picture-decoders.ts: `unsupported-format`). Null for
 * any other stderr.
 */
export function refusedDemuxerVerdict(stderr: string): string | null {
  const match = /\[([\w,]+) @ 0x[0-9a-f]+\] Format not on whitelist/i.exec(stderr);
  if (!match) return null;
  return `not read: the file is of the ${match[1]} kind, which makes ffmpeg open the other files or URLs it names (a playlist, a manifest, a list of files): unsupported format`;
}

/** A failure message made from that verdict. */
export const REFUSED_DEMUXER = /which makes ffmpeg open the other files or URLs it names/;
