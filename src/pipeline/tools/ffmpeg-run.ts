import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type { Config } from '../../home/config.js';
import { detectFfTool, locateFfTool, type FfmpegToolName } from './ffmpeg-tool.js';
import { firstLineOf, tailOf, ToolError } from './tool.js';

/**
 * The ffmpeg/ffprobe port used by steps: which binary (config > PATH > npm package), its version, and
 * running it under the step's abort signal so that a cancel or a timeout kills the child at once.
 */

let configured: Config['tools'] = {};
let cacheFile: string | undefined;
const versions = new Map<FfmpegToolName, Promise<string | null>>();

/**
 * Tells the port which binaries the home's config.json names, and where versions already asked are
 * remembered; called once per process.
 */
export function configureFfTools(tools: Config['tools'], versionCacheFile?: string): void {
  configured = { ...tools };
  cacheFile = versionCacheFile;
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

/**
 * `ffmpeg -version` costs a process start (a tenth of a second, more on a busy machine) in the command
 * that starts a run and in each of its workers, before the first item. The answer is remembered per
 * binary: its path, size, mtime and inode; a replaced or upgraded binary differs in one of them, so the
 * version recorded in lineage is always the one of the file that runs.
 */
async function cachedVersion(name: FfmpegToolName): Promise<string | null> {
  const found = locateFfTool(name, configured[name]);
  let key: string | undefined;
  try {
    const stat = found.ok ? fs.statSync(found.path) : undefined;
    key = stat && `${found.path}|${stat.size}|${stat.mtimeMs}|${stat.ino}`;
  } catch {
    key = undefined;
  }
  const cache = key && cacheFile ? readVersionCache(cacheFile) : {};
  const known = key ? cache[key] : undefined;
  if (known) return known;
  const version = (await detectFfTool(name, configured[name], process.env)).version;
  if (key && cacheFile && version)
    writeVersionCache(cacheFile, { ...readVersionCache(cacheFile), [key]: version });
  return version;
}

function readVersionCache(file: string): Record<string, string> {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, string>;
  } catch {
    return {};
  }
}

function writeVersionCache(file: string, cache: Record<string, string>): void {
  // Whole-file replace: concurrent workers may both write; either complete answer is right.
  const temp = `${file}.${process.pid}`;
  try {
    fs.writeFileSync(temp, `${JSON.stringify(cache)}\n`);
    fs.renameSync(temp, file);
  } catch {
    fs.rmSync(temp, { force: true });
  }
}

export interface FfRunResult {
  stdout: Buffer;
  stderr: string;
}

export interface FfRunOptions {
  signal: AbortSignal;
  /** Refuse more stdout than this (a frame grab that produces a video stream instead is a bug). */
  maxStdoutBytes?: number;
  /** The input argument, left out of failure messages: ffmpeg prefixes its verdict with it. */
  input?: string;
}

/**
 * Runs ffmpeg or ffprobe with `args`. Resolves with stdout and stderr on exit code 0; rejects with a
 * ToolError: `missing` when the binary cannot be found or started, `aborted` when the signal fired
 * (the child is SIGKILLed: a decoder stuck in a corrupt file does not answer SIGTERM reliably), and
 * `failed` with the stderr tail otherwise.
 */
export function runFfTool(
  name: FfmpegToolName,
  args: readonly string[],
  options: FfRunOptions,
): Promise<FfRunResult> {
  const found = locateFfTool(name, configured[name]);
  if (!found.ok) return Promise.reject(new ToolError(name, 'missing', found.problem));
  if (options.signal.aborted)
    return Promise.reject(new ToolError(name, 'aborted', `${name} was not started: aborted`));
  const maxStdout = options.maxStdoutBytes ?? 256 * 1024 * 1024;

  return new Promise((resolve, reject) => {
    const child = spawn(found.path, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      signal: options.signal,
      killSignal: 'SIGKILL',
      windowsHide: true,
    });
    const chunks: Buffer[] = [];
    let stdoutBytes = 0;
    let stderr = '';
    let settled = false;
    const fail = (error: ToolError) => {
      if (settled) return;
      settled = true;
      reject(error);
    };
    child.stdout.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > maxStdout) {
        child.kill('SIGKILL');
        fail(
          new ToolError(name, 'failed', `${name} wrote more than ${maxStdout} bytes`, {
            stderrTail: tailOf(stderr),
          }),
        );
        return;
      }
      chunks.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      // Keep only the end: ffmpeg can print a line per frame on a damaged stream.
      stderr = (stderr + chunk.toString('utf8')).slice(-64 * 1024);
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.name === 'AbortError') {
        fail(
          new ToolError(name, 'aborted', `${name} was killed: aborted`, {
            stderrTail: tailOf(stderr),
            cause: error,
          }),
        );
      } else if (error.code === 'ENOENT' || error.code === 'EACCES') {
        fail(
          new ToolError(name, 'missing', `${name} at ${found.path} cannot be started: ${error.code}`, {
            cause: error,
          }),
        );
      } else {
        fail(
          new ToolError(name, 'failed', `${name}: ${error.message}`, {
            stderrTail: tailOf(stderr),
            cause: error,
          }),
        );
      }
    });
    child.on('close', (code, signal) => {
      if (settled) return;
      if (code === 0) {
        settled = true;
        resolve({ stdout: Buffer.concat(chunks), stderr });
        return;
      }
      const said =
        firstLineOf(verdictOf(stderr, options.input)) ||
        (signal ? `killed by ${signal}` : `exit code ${code}`);
      fail(new ToolError(name, 'failed', `${name}: ${said}`, { stderrTail: tailOf(stderr) }));
    });
  });
}

/**
 * ffmpeg ends with its conclusion ("Invalid data found when processing input"); the line before often says
 * why ("[mov,mp4,...] moov atom not found"). Both, in one line, are what a person needs.
 */
function verdictOf(stderr: string, input: string | undefined): string {
  const lines = stderr
    .split(/\r?\n/)
    .map((line) => (input ? line.replace(`${input}: `, '') : line).trim())
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

/** Threads per ffmpeg: the coordinator's share of the cores for this worker, as for libvips. */
export function ffThreads(): string {
  const threads = Number.parseInt(process.env.VIPS_CONCURRENCY ?? '', 10);
  return String(Number.isFinite(threads) && threads > 0 ? threads : 0);
}
