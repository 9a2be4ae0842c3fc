import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Config } from '../../home/config.js';
import { findOnPath, isExecutableFile, messageOf, type ToolReport } from './tool.js';

const execFileAsync = promisify(execFile);

export type FfmpegToolName = 'ffmpeg' | 'ffprobe';

/** `-version` prints and exits at once; a binary that takes longer is hung or not ffmpeg. */
const VERSION_TIMEOUT_MS = 15_000;

const INSTALL_HINT = (name: FfmpegToolName) =>
  `Install it with \`apt-get install ffmpeg\` (or your platform's package), ` +
  `or set tools.${name} in the home's config.json to its path.`;

export function detectFfmpeg(tools: Config['tools'] = {}, env = process.env): Promise<ToolReport> {
  return detectFfTool('ffmpeg', tools.ffmpeg, env);
}

export function detectFfprobe(tools: Config['tools'] = {}, env = process.env): Promise<ToolReport> {
  return detectFfTool('ffprobe', tools.ffprobe, env);
}

/**
 * The configured path wins over PATH, and a broken configured path is reported as broken rather than
 * silently replaced by whatever PATH holds: the user chose that binary, so results must not come from
 * another one.
 */
async function detectFfTool(
  name: FfmpegToolName,
  configured: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<ToolReport> {
  const source = configured ? 'config' : 'system';
  // A bare name in the config ("ffmpeg7") means a command on PATH; anything with a slash is a path.
  const location = configured
    ? configured.includes('/') || configured.includes(path.sep)
      ? path.resolve(configured)
      : (findOnPath(configured, env) ?? configured)
    : findOnPath(name, env);
  if (!location) {
    return {
      name,
      version: null,
      path: null,
      source: null,
      ok: false,
      problem: `${name} was not found on PATH`,
      hint: INSTALL_HINT(name),
    };
  }
  if (!isExecutableFile(location)) {
    const why = fs.existsSync(location) ? 'is not an executable file' : 'does not exist';
    return {
      name,
      version: null,
      path: location,
      source,
      ok: false,
      problem: `${name} at ${location} (from ${source === 'config' ? 'config.json' : 'PATH'}) ${why}`,
      hint: INSTALL_HINT(name),
    };
  }
  try {
    const output = await versionOutput(location);
    const version = parseVersion(name, output);
    if (!version) {
      return {
        name,
        version: null,
        path: location,
        source,
        ok: false,
        problem: `${location} does not look like ${name}: \`-version\` printed "${firstLine(output)}"`,
        hint: INSTALL_HINT(name),
      };
    }
    return { name, version, path: location, source, ok: true };
  } catch (error) {
    return {
      name,
      version: null,
      path: location,
      source,
      ok: false,
      problem: `\`${location} -version\` failed: ${messageOf(error)}`,
      hint: INSTALL_HINT(name),
    };
  }
}

async function versionOutput(file: string): Promise<string> {
  try {
    const { stdout } = await execFileAsync(file, ['-version'], {
      timeout: VERSION_TIMEOUT_MS,
      killSignal: 'SIGKILL',
      maxBuffer: 1024 * 1024,
      windowsHide: true,
    });
    return stdout;
  } catch (error) {
    // execFile marks a child it killed at the timeout; say so rather than "Command failed".
    if (error && typeof error === 'object' && 'killed' in error && error.killed) {
      throw new Error(`no answer within ${VERSION_TIMEOUT_MS / 1000} s`, { cause: error });
    }
    throw error;
  }
}

function firstLine(text: string): string {
  return text.split(/\r?\n/, 1)[0]?.trim() ?? '';
}

/** `ffmpeg version 6.1.1-3ubuntu5 Copyright (c) ...` → `6.1.1-3ubuntu5` (also `n7.0`, `N-113-gabc` builds). */
export function parseVersion(name: FfmpegToolName, output: string): string | null {
  const match = new RegExp(`^${name} version (\\S+)`).exec(firstLine(output));
  return match?.[1] ?? null;
}
