import path from 'node:path';
import { runTool } from './run-tool.js';
import type { ImageHeader } from './sharp-tool.js';
import { findOnPath, isExecutableFile } from './tool.js';
import { nativeVips, UNSET_ENV, vipsVerdict } from './vips-cli.js';

/**
 * A picture's header from the system's `vipsheader` (libvips-tools, beside vipsthumbnail), reading the
 * original's open descriptor as its stdin: for originals too large to read into memory, whose header
 * sharp could only read by opening a name of the descriptor anew, without O_NOATIME (the kernel would
 * record the read as an access). Null when vipsheader is not installed.
 */
export async function nativeHeader(request: {
  fd: number;
  signal: AbortSignal;
  cwd: string;
}): Promise<ImageHeader | null> {
  const vips = await nativeVips();
  if (!vips) return null;
  const beside = path.join(path.dirname(vips.path), 'vipsheader');
  const executable = isExecutableFile(beside) ? beside : findOnPath('vipsheader');
  if (!executable) return null;
  const { stdout } = await runTool('vipsheader', executable, ['-a', 'stdin'], {
    signal: request.signal,
    stdinFd: request.fd,
    unsetEnv: UNSET_ENV,
    cwd: request.cwd,
    maxStdoutBytes: 16 * 1024 * 1024,
    verdict: vipsVerdict,
  });
  return headerOfFields(stdout.toString('utf8'));
}

/** `vipsheader -a`'s `name: value` lines, as sharp's metadata would have told them. */
export function headerOfFields(text: string): ImageHeader {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const at = line.indexOf(': ');
    if (at > 0) fields.set(line.slice(0, at), line.slice(at + 2).trim());
  }
  const number = (name: string) => Number.parseInt(fields.get(name) ?? '', 10);
  // "jpegload_source" -> "jpeg", "jp2kload_source" -> "jp2": the names sharp gives its formats.
  const loader = (fields.get('vips-loader') ?? '').replace(/load(_source|_buffer)?$/, '');
  const format = loader === 'jp2k' ? 'jp2' : loader;
  const pageHeight = number('page-height');
  const depth = fields.get('format') ?? 'uchar';
  const compression = fields.get('heif-compression');
  const chroma = fields.get('jpeg-chroma-subsample');
  return {
    format,
    width: number('width'),
    height: Number.isFinite(pageHeight) && pageHeight > 0 ? pageHeight : number('height'),
    ...(compression ? { compression } : {}),
    // libvips marks a progressive JPEG `jpeg-multiscan` and an interlaced PNG `interlaced`.
    progressive: number('jpeg-multiscan') === 1 || number('interlaced') === 1,
    ...(chroma ? { chromaSubsampling: chroma } : {}),
    channels: number('bands') || 3,
    bytesPerSample: /^(ushort|short)$/.test(depth) ? 2 : /^(uint|int|float)$/.test(depth) ? 4 : 1,
  };
}
