import { spawn } from 'node:child_process';
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
   */
  stdinFd?: number;
  /** Variables to remove from the child's environment (sharp sets VIPSHOME for its own libvips). */
  unsetEnv?: readonly string[];
  /** The child's working directory: a scratch folder, so a relative output can never land in a source. */
  cwd?: string;
  /** Turns the stderr of a failed run into its one-line verdict; the last line by default. */
  verdict?: (stderr: string) => string;
}

export interface ToolRunResult {
  stdout: Buffer;
  stderr: string;
}

/**
 * Resolves with stdout and stderr on exit code 0; rejects with a ToolError: `missing` when the binary
 * cannot be started, `aborted` when the signal fired, and `failed` with the stderr tail otherwise.
 */
export function runTool(
  name: string,
  executable: string,
  args: readonly string[],
  options: RunToolOptions,
): Promise<ToolRunResult> {
  if (options.signal.aborted)
    return Promise.reject(new ToolError(name, 'aborted', `${name} was not started: aborted`));
  const maxStdout = options.maxStdoutBytes ?? 256 * 1024 * 1024;
  let env: NodeJS.ProcessEnv | undefined;
  if (options.unsetEnv && options.unsetEnv.some((key) => key in process.env)) {
    env = { ...process.env };
    for (const key of options.unsetEnv) delete env[key];
  }

  return new Promise((resolve, reject) => {
    const child = spawn(executable, args, {
      stdio: [options.stdinFd ?? 'ignore', 'pipe', 'pipe'],
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
      if (code === 0) {
        settled = true;
        resolve({ stdout: Buffer.concat(chunks), stderr });
        return;
      }
      const said =
        firstLineOf((options.verdict ?? lastLine)(stderr)) ||
        (signal ? `killed by ${signal}` : `exit code ${code}`);
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
