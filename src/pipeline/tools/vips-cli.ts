import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Config } from '../../home/config.js';
import type { OriginalFile } from '../../catalog/original-file.js';
import { withBoxFileStandIn } from './box-file-stand-in.js';
import { runTool } from './run-tool.js';
import { findOnPath, isExecutableFile, messageOf, ToolError, type ToolReport } from './tool.js';
import { rememberedVersion, systemLibraries } from './version-cache.js';

/**
 * The system's libvips, through its `vipsthumbnail` (Debian's libvips-tools), with the system's libheif
 * (libde265 for HEVC, dav1d/aom for AV1 at any bit depth) and libjxl. It decodes what the libvips inside
 * the npm `sharp` cannot: phones' HEVC-coded HEIC, 10- and 12-bit AVIF, JPEG XL; it uses a HEIF's
 * embedded thumbnail when that is at least the requested size, and shrinks on load otherwise. Optional:
 * without it HEIC goes through the WebAssembly libheif (heif-tool.ts), at a tenth of the speed.
 */

const execFileAsync = promisify(execFile);
const VERSION_TIMEOUT_MS = 15_000;
/** sharp points VIPSHOME at its own bundle: the system's libvips would then find none of its modules. */
export const UNSET_ENV = ['VIPSHOME'] as const;

export const NATIVE_HINT =
  'Install Debian/Ubuntu `libvips-tools` and `libheif-examples` (`apt-get install libvips-tools libheif-examples`) ' +
  'for native HEIC, 10/12-bit AVIF and JPEG XL; without them HEIC is decoded by WebAssembly libheif, about 10× slower.';

let configured: Config['tools']['vipsthumbnail'];
let detected: Promise<NativeVips | null> | undefined;

export function configureVips(tools: Config['tools']): void {
  configured = tools.vipsthumbnail;
  detected = undefined;
}

export interface NativeVips {
  path: string;
  /** libvips' version, as `vipsthumbnail --vips-version` prints it ("8.14.1"). */
  version: string;
  /** The system libheif's version, or null when it cannot be told. */
  libheif: string | null;
}

/** `vipsthumbnail 8.14.1 (libheif 1.15.1)`: how lineage names this decoder. */
export function nativeVipsLabel(vips: NativeVips): string {
  return `vipsthumbnail ${vips.version}${vips.libheif ? ` (libheif ${vips.libheif})` : ''}`;
}

function locate(): { path: string | null; problem?: string } {
  if (configured === false) return { path: null, problem: 'turned off in config.json (tools.vipsthumbnail)' };
  if (!configured) {
    const found = findOnPath('vipsthumbnail');
    return found ? { path: found } : { path: null, problem: 'vipsthumbnail was not found on PATH' };
  }
  const location = configured.includes('/')
    ? path.resolve(configured)
    : (findOnPath(configured) ?? configured);
  return isExecutableFile(location)
    ? { path: location }
    : { path: null, problem: `vipsthumbnail at ${location} (from config.json) is not an executable file` };
}

async function versionOf(executable: string, args: string[], pattern: RegExp): Promise<string | null> {
  try {
    const env = { ...process.env };
    for (const key of UNSET_ENV) delete env[key];
    const { stdout, stderr } = await execFileAsync(executable, args, {
      timeout: VERSION_TIMEOUT_MS,
      killSignal: 'SIGKILL',
      env,
    }).catch((error: { stdout?: string; stderr?: string }) => ({
      // heif-info prints its version in its usage text, with a non-zero exit code.
      stdout: error.stdout ?? '',
      stderr: error.stderr ?? '',
    }));
    return pattern.exec(`${stdout}\n${stderr}`)?.[1] ?? null;
  } catch {
    return null;
  }
}

/**
 * An executable's answer about the library it prints the version of, remembered for the executable and
 * every copy of that library (version-cache.ts); never remembered when no copy is found.
 */
function libraryVersion(executable: string, soname: string, args: string[], pattern: RegExp) {
  const libraries = systemLibraries(soname);
  return rememberedVersion(libraries.length > 0 ? [executable, ...libraries] : [], () =>
    versionOf(executable, args, pattern),
  );
}

/** libheif's version from `heif-info` (libheif-examples), else from the shared library's file name. */
async function libheifVersion(): Promise<string | null> {
  const heifInfo = findOnPath('heif-info');
  const fromTool = heifInfo
    ? await libraryVersion(heifInfo, 'libheif.so.1', ['-h'], /libheif version: (\S+)/)
    : null;
  if (fromTool) return fromTool;
  const library = systemLibraries('libheif.so.1')[0];
  return library ? (/libheif\.so\.(\d+\.\d+\.\d+)$/.exec(library)?.[1] ?? null) : null;
}

/** The native decoder, found once per process; null when it is not installed or turned off. */
export function nativeVips(): Promise<NativeVips | null> {
  detected ??= (async () => {
    const found = locate();
    if (!found.path) return null;
    const version = await libraryVersion(found.path, 'libvips.so.42', ['--vips-version'], /libvips (\S+)/);
    if (!version) return null;
    return { path: found.path, version, libheif: await libheifVersion() };
  })();
  return detected;
}

/** What doctor shows: the native path, or why it is not active. */
export async function detectNativeVips(): Promise<ToolReport> {
  const found = locate();
  if (!found.path) {
    return {
      name: 'vipsthumbnail',
      version: null,
      path: null,
      source: null,
      ok: false,
      problem: found.problem ?? 'not found',
      hint: NATIVE_HINT,
    };
  }
  try {
    const vips = await nativeVips();
    if (!vips) throw new Error(`\`${found.path} --vips-version\` did not print a libvips version`);
    return {
      name: 'vipsthumbnail',
      version: nativeVipsLabel(vips).replace(/^vipsthumbnail /, ''),
      path: vips.path,
      source: configured ? 'config' : 'system',
      ok: true,
    };
  } catch (error) {
    return {
      name: 'vipsthumbnail',
      version: null,
      path: found.path,
      source: configured ? 'config' : 'system',
      ok: false,
      problem: messageOf(error),
      hint: NATIVE_HINT,
    };
  }
}

export interface NativeThumbnailRequest {
  /** The original's open descriptor: vipsthumbnail reads it as its stdin (`stdin`), seeking as it needs. */
  fd: number;
  /** Longest edge; smaller pictures are never enlarged (the `>` of the geometry). */
  size: number;
  signal: AbortSignal;
  /** The child's working directory: a scratch folder of the worker. */
  cwd: string;
}

/**
 * Decodes and shrinks one picture to a PNG no larger than `size`, upright (libheif applies the HEIF's
 * own rotation and mirror, libvips the EXIF orientation), with its ICC profile kept so that the colour
 * conversion to sRGB is sharp's, as for every other format. Lossless and quick to write (compression
 * 1): sharp encodes the thumbnail from it.
 */
export async function nativeThumbnail(request: NativeThumbnailRequest): Promise<Buffer> {
  const vips = await nativeVips();
  if (!vips)
    throw new ToolError('vipsthumbnail', 'missing', `vipsthumbnail: ${locate().problem ?? 'not usable'}`);
  const threads = Number.parseInt(process.env.VIPS_CONCURRENCY ?? '', 10);
  const { stdout } = await runTool(
    'vipsthumbnail',
    vips.path,
    [
      // `stdin` reads the descriptor itself (lseek and read), never a path: O_NOATIME stays in force.
      'stdin',
      '--size',
      `${request.size}x${request.size}>`,
      // `.png` with no name: the picture goes to stdout, never to a file beside anything.
      '--output',
      '.png[compression=1]',
      ...(Number.isFinite(threads) && threads > 0 ? [`--vips-concurrency=${threads}`] : []),
    ],
    {
      signal: request.signal,
      stdinFd: request.fd,
      unsetEnv: UNSET_ENV,
      cwd: request.cwd,
      maxStdoutBytes: 256 * 1024 * 1024,
      verdict: vipsVerdict,
    },
  );
  if (stdout.length === 0) throw new ToolError('vipsthumbnail', 'failed', 'vipsthumbnail: wrote no picture');
  return stdout;
}

/**
 * vipsthumbnail's stderr: GLib warnings ("heifload: ignoring nclx profile"), then "unable to thumbnail
 * stdin", then the loader's reason. The reason is what a person needs.
 */
export function vipsVerdict(stderr: string): string {
  const lines = stderr
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !/VIPS-WARNING|^\(vipsthumbnail:\d+\)/.test(line));
  const reasons = lines.filter((line) => !/^vipsthumbnail: unable to thumbnail/.test(line));
  return reasons.join('; ') || lines.at(-1) || '';
}

/**
 * The thumbnail items of a HEIF's primary image, from `heif-info --dump-boxes` (libheif-examples) on a
 * stand-in of the original's boxes (box-file-stand-in.ts); null when heif-info is not installed. Asked only for
 * pictures too large to decode whole (see picture-decoders.ts). The box dump, because plain `heif-info`
 * decodes the primary image to describe it: measured here 283 MB and 4.7 s for a 63 MP HEIC, 446 MB for
 * a 100 MP one, the very cost this question is asked to avoid; the dump takes 6 MB and 0.05 s.
 */
export async function heifThumbnailSizes(
  original: OriginalFile,
  signal: AbortSignal,
  cwd: string,
): Promise<{ width: number; height: number }[] | null> {
  const heifInfo = findOnPath('heif-info');
  if (!heifInfo) return null;
  const dump = (file: string, stdinFd?: number) =>
    runTool('heif-info', heifInfo, ['--dump-boxes', file], {
      signal,
      ...(stdinFd === undefined ? {} : { stdinFd }),
      cwd,
      maxStdoutBytes: 16 * 1024 * 1024,
    });
  // heif-info opens what it is named: a stand-in of the boxes in the scratch folder, or else
  // `/dev/stdin`, the descriptor we opened (the child's fd 0, never a path in the source that could have
  // been swapped since), which it opens anew without O_NOATIME.
  const { stdout } =
    (await withBoxFileStandIn(original, cwd, (file) => dump(file))) ??
    (await dump('/dev/stdin', original.fd));
  return thumbnailsInDump(stdout.toString('utf8'));
}

/**
 * Reads the dump: the primary item (`pitm`), the properties of `ipco` in order (1-based, `ispe` giving
 * a size), which item has which (`ipma`), and which items are thumbnails of which (`iref` 'thmb').
 */
export function thumbnailsInDump(dump: string): { width: number; height: number }[] {
  const path: string[] = [];
  const properties: ({ width: number; height: number } | null)[] = [];
  const associations = new Map<number, number[]>();
  const thumbnailsOf = new Map<number, number[]>();
  let primary: number | undefined;
  let item: number | undefined;
  for (const line of dump.split('\n')) {
    const box = /^((?:\| )*)Box: (\w+)/.exec(line);
    if (box) {
      const depth = box[1]!.length / 2;
      path.length = depth;
      path[depth] = box[2]!;
      if (depth === 3 && path[2] === 'ipco') properties.push(null);
      continue;
    }
    const here = path.at(-1);
    let match: RegExpExecArray | null;
    if (here === 'pitm' && (match = /item_ID: (\d+)/.exec(line))) primary = Number(match[1]);
    else if (here === 'ispe' && path[2] === 'ipco' && (match = /image (width|height): (\d+)/.exec(line))) {
      const last = (properties[properties.length - 1] ??= { width: 0, height: 0 });
      last[match[1] as 'width' | 'height'] = Number(match[2]);
    } else if (here === 'ipma' && (match = /associations for item ID: (\d+)/.exec(line))) {
      item = Number(match[1]);
      associations.set(item, []);
    } else if (here === 'ipma' && item !== undefined && (match = /property index: (\d+)/.exec(line))) {
      associations.get(item)!.push(Number(match[1]));
    } else if (here === 'iref' && (match = /type 'thmb' from ID: (\d+) to IDs: ([\d ]+)/.exec(line))) {
      for (const to of match[2]!.trim().split(/\s+/).map(Number)) {
        thumbnailsOf.set(to, [...(thumbnailsOf.get(to) ?? []), Number(match[1])]);
      }
    }
  }
  if (primary === undefined) return [];
  return (thumbnailsOf.get(primary) ?? []).flatMap((thumbnail) => {
    const size = (associations.get(thumbnail) ?? [])
      .map((index) => properties[index - 1])
      .find((property) => property && property.width > 0);
    return size ? [size] : [];
  });
}
