import { spawn } from 'node:child_process';
import { openSourceFile } from '../../catalog/source-reader.js';
import { firstLineOf, tailOf, ToolError } from './tool.js';

/**
 * Runs one external tool (ffmpeg, ffprobe, vipsthumbnail) under a step's abort signal: a cancel or a
 * timeout SIGKILLs the child at once (a decoder stuck in a corrupt file does not answer SIGTERM
 * reliably). The one place that spawns decoders, so every port reads originals and reports failures alike.
 */
export interface RunToolOptions {
  signal: AbortSignal;
  /** Refuse more stdout than this (a frame grab that produces a video stream instead is a bug). */
  maxStdoutBytes?: number;
  /**
   * An open descriptor of the original, given to the child as its stdin: the child reads the file we
   * opened (O_NOFOLLOW, checked against the catalog), never a path that may have been swapped since.
   * The child gets its own open file of it (see stdinFor), so its reads keep the access time and start
   * at byte 0 whatever an earlier child read.
   */
  stdinFd?: number;
  /** Variables to remove from the child's environment (sharp sets VIPSHOME for its own libvips). */
  unsetEnv?: readonly string[];
  /** The child's working directory: a scratch folder, so a relative output can never land in a source. */
  cwd?: string;
  /** Turns the stderr of a failed run into its one-line verdict; the last line by default. */
  verdict?: (stderr: string) => string;
  /** Rewrites stderr before a person sees it (verdict and tail): a one-off name for the input, say. */
  presentStderr?: (stderr: string) => string;
}

export interface ToolRunResult {
  stdout: Buffer;
  stderr: string;
}

/**
 * Resolves with stdout and stderr on exit code 0; rejects with a ToolError: `missing` when the binary
 * cannot be started, `aborted` when the signal fired, and `failed` with the stderr tail otherwise.
 */
export async function runTool(
  name: string,
  executable: string,
  args: readonly string[],
  options: RunToolOptions,
): Promise<ToolRunResult> {
  if (options.signal.aborted) throw new ToolError(name, 'aborted', `${name} was not started: aborted`);
  const stdin = options.stdinFd === undefined ? undefined : await stdinFor(options.stdinFd);
  try {
    return await spawnTool(name, executable, args, options, stdin?.fd);
  } finally {
    await stdin?.close();
  }
}

/**
 * A new open file of the descriptor, made here with the source reader's flags (O_NOATIME where the
 * kernel allows it) through /proc/self/fd/<n>, which resolves to the open file, never to a path. Handed
 * the descriptor itself, a child would share its file offset (a second child would start where the first
 * stopped reading); and a child that opened /proc/self/fd/0 itself would get an open file without
 * O_NOATIME, whose reads the kernel records as an access of the original.
 */
async function stdinFor(fd: number): Promise<{ fd: number; close: () => Promise<void> }> {
  if (process.platform !== 'linux') return { fd, close: () => Promise.resolve() };
  const handle = await openSourceFile(`/proc/${process.pid}/fd/${fd}`);
  return { fd: handle.fd, close: () => handle.close() };
}

function spawnTool(
  name: string,
  executable: string,
  args: readonly string[],
  options: RunToolOptions,
  stdinFd: number | undefined,
): Promise<ToolRunResult> {
  const maxStdout = options.maxStdoutBytes ?? 256 * 1024 * 1024;
  let env: NodeJS.ProcessEnv | undefined;
  if (options.unsetEnv && options.unsetEnv.some((key) => key in process.env)) {
    env = { ...process.env };
    for (const key of options.unsetEnv) delete env[key];
  }

  return new Promise((resolve, reject) => {
    const child = spawn(executable, args, {
      stdio: [stdinFd ?? 'ignore', 'pipe', 'pipe'],
      signal: options.signal,
      killSignal: 'SIGKILL',
      windowsHide: true,
      ...(env ? { env } : {}),
      ...(options.cwd ? { cwd: options.cwd } : {}),
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
    child.stdout!.on('data', (chunk: Buffer) => {
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
    child.stderr!.on('data', (chunk: Buffer) => {
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
          new ToolError(name, 'missing', `${name} at ${executable} cannot be started: ${error.code}`, {
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
      if (options.presentStderr) stderr = options.presentStderr(stderr);
      if (code === 0) {
        settled = true;
        resolve({ stdout: Buffer.concat(chunks), stderr });
        return;
      }
      if (signal) {
        // Killed from outside (the OOM killer, a SIGKILL) or crashed: it has not judged the file yet,
        // whatever it printed before, so the item is tried again and fails only if it dies every time.
        fail(
          new ToolError(name, 'failed', `${name}: killed by ${signal}`, {
            stderrTail: tailOf(stderr),
            retryable: true,
          }),
        );
        return;
      }
      const said = firstLineOf((options.verdict ?? lastLine)(stderr)) || `exit code ${code}`;
      fail(new ToolError(name, 'failed', `${name}: ${said}`, { stderrTail: tailOf(stderr) }));
    });
  });
}

function lastLine(stderr: string): string {
  return (
    stderr
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line !== '')
      .at(-1) ?? ''
  );
}
