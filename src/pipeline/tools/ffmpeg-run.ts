import type { Config } from '../../home/config.js';
import { serveDescriptor } from './descriptor-http.js';
import { confinedArgs, refusedDemuxerVerdict } from './ff-confinement.js';
import { detectFfTool, locateFfTool, type FfmpegToolName } from './ffmpeg-tool.js';
import { runTool, type ToolRunResult } from './run-tool.js';
import { ToolError } from './tool.js';
import { rememberedVersion } from './version-cache.js';

/**
 * The ffmpeg/ffprobe port used by steps: which binary (config > PATH > npm package), its version, and
 * running it under the step's abort signal so that a cancel or a timeout kills the child at once.
 */

let configured: Config['tools'] = {};
const versions = new Map<FfmpegToolName, Promise<string | null>>();

/** Tells the port which binaries the home's config.json names; called once per process. */
export function configureFfTools(tools: Config['tools']): void {
  configured = { ...tools };
  versions.clear();
}

/** The tool's own version string, or null when it cannot be run; detected once per process. */
export function ffToolVersion(name: FfmpegToolName): Promise<string | null> {
  let version = versions.get(name);
  if (!version) {
    version = cachedVersion(name);
    versions.set(name, version);
  }
  return version;
}

/** Remembered per binary in the home (version-cache.ts): a start of ffmpeg saved per process. */
async function cachedVersion(name: FfmpegToolName): Promise<string | null> {
  const found = locateFfTool(name, configured[name]);
  return rememberedVersion(
    found.ok ? [found.path] : [],
    async () => (await detectFfTool(name, configured[name], process.env)).version,
  );
}

export type FfRunResult = ToolRunResult;

export interface FfRunOptions {
  signal: AbortSignal;
  /** Refuse more stdout than this (a frame grab that produces a video stream instead is a bug). */
  maxStdoutBytes?: number;
  /**
   * The input argument (after `-i` in `args`): confined to itself (ff-confinement.ts), and left out of
   * failure messages (ffmpeg prefixes its verdict with it).
   */
  input: string;
}

/**
 * Runs ffmpeg or ffprobe with `args` (see runTool): `missing` when the binary cannot be found or started,
 * `aborted` when the signal fired, `failed` with ffmpeg's verdict and stderr tail otherwise. The input is
 * confined: the tool may open it and nothing it names (a playlist's URLs, a list's files).
 */
export function runFfTool(
  name: FfmpegToolName,
  args: readonly string[],
  options: FfRunOptions,
): Promise<FfRunResult> {
  const found = locateFfTool(name, configured[name]);
  if (!found.ok) return Promise.reject(new ToolError(name, 'missing', found.problem));
  return runTool(name, found.path, confinedArgs(args, options.input), {
    signal: options.signal,
    ...(options.maxStdoutBytes !== undefined ? { maxStdoutBytes: options.maxStdoutBytes } : {}),
    // ffmpeg would send its loopback request for the original to a proxy named here.
    unsetEnv: ['http_proxy'],
    // The loopback URL of an original (descriptor-http.ts) is random and gone once the tool ends: a
    // person reading the failure is told "original" instead.
    presentStderr: (stderr) => stderr.split(options.input).join(shownInput(options.input)),
    verdict: (stderr) => refusedDemuxerVerdict(stderr) ?? verdictOf(stderr, shownInput(options.input)),
  });
}

/** How ffmpeg's messages name its input: "original" for an original served over loopback, else as given. */
function shownInput(input: string): string {
  return input.startsWith('http://') ? 'original' : input;
}

/**
 * ffmpeg ends with its conclusion ("Invalid data found when processing input"); the line before often says
 * why ("[mov,mp4,...] moov atom not found"). Both, in one line, are what a person needs.
 */
function verdictOf(stderr: string, input: string): string {
  const lines = stderr
    .split(/\r?\n/)
    .map((line) => line.replace(`${input}: `, '').trim())
    .filter((line) => line !== '');
  const last = lines.at(-1) ?? '';
  const cause = lines
    .slice(0, -1)
    .reverse()
    .map((line) => line.replace(/^\[[^\]]*@ 0x[0-9a-f]+\]\s*/i, ''))
    .find((line) => line !== '' && line !== last);
  return cause ? `${last} (${cause})` : last;
}

/** `file:` keeps a path with a colon in its name from being read as a protocol ("a:b.mp4"). */
export function ffInput(file: string): string {
  return process.platform === 'win32' ? file : `file:${file}`;
}

/**
 * What ffmpeg reads: an original's open descriptor (see src/catalog/original-file.ts), or a path of our
 * own (a test file, an artifact).
 */
export type FfSource = string | { fd: number };

export interface FfInput {
  /** The `-i` argument. */
  input: string;
  close: () => Promise<void>;
}

/**
 * The `-i` argument for a source. A descriptor is served to the child over loopback HTTP with byte
 * ranges (descriptor-http.ts): ffmpeg seeks as an MP4 with its index at the end needs, every byte is
 * read through the descriptor we opened and checked (a path swapped since is never followed), and the
 * original's access time stays as it was, which a path to the descriptor would not keep.
 */
export async function openFfInput(source: FfSource): Promise<FfInput> {
  if (typeof source === 'string') return { input: ffInput(source), close: () => Promise.resolve() };
  const served = await serveDescriptor(source.fd);
  return { input: served.url, close: served.close };
}

/** Runs `use` with the source's input, and stops serving it afterwards whatever happens. */
export async function withFfInput<T>(source: FfSource, use: (input: string) => Promise<T>): Promise<T> {
  const { input, close } = await openFfInput(source);
  try {
    return await use(input);
  } finally {
    await close();
  }
}

/** Threads per ffmpeg: the coordinator's share of the cores for this worker, as for libvips. */
export function ffThreads(): string {
  const threads = Number.parseInt(process.env.VIPS_CONCURRENCY ?? '', 10);
  return String(Number.isFinite(threads) && threads > 0 ? threads : 0);
}
