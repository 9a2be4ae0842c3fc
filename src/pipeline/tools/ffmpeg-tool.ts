import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Config } from '../../home/config.js';
import { findOnPath, isExecutableFile, messageOf, type ToolReport, type ToolSource } from './tool.js';

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

/** Where a tool was found, or why it was not. */
type Location =
  | { ok: true; path: string; source: ToolSource }
  | { ok: false; path: string | null; source: ToolSource | null; problem: string };

/**
 * npm packages that ship a static ffmpeg/ffprobe, tried after PATH when one is installed. None is a
 * dependency (their install scripts download binaries); a user who cannot install ffmpeg may add one.
 */
const NPM_PACKAGES: Record<FfmpegToolName, readonly string[]> = {
  ffmpeg: ['ffmpeg-static', '@ffmpeg-installer/ffmpeg'],
  ffprobe: ['ffprobe-static', '@ffprobe-installer/ffprobe'],
};

function fromNpm(name: FfmpegToolName): string | null {
  const require = createRequire(import.meta.url);
  for (const pkg of NPM_PACKAGES[name]) {
    try {
      // ffmpeg-static exports the path itself; the others an object with `path`.
      const exported = require(pkg) as unknown;
      const candidate =
        typeof exported === 'string'
          ? exported
          : exported && typeof exported === 'object' && 'path' in exported
            ? String(exported.path)
            : null;
      if (candidate && isExecutableFile(candidate)) return candidate;
    } catch {
      // Not installed: the usual case.
    }
  }
  return null;
}

/**
 * The configured path wins over PATH, PATH over an npm-shipped binary, and a broken configured path is
 * reported as broken rather than silently replaced by whatever PATH holds: the user chose that binary,
 * so results must not come from another one.
 */
export function locateFfTool(
  name: FfmpegToolName,
  configured: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Location {
  if (!configured) {
    const onPath = findOnPath(name, env);
    if (onPath) return { ok: true, path: onPath, source: 'system' };
    const shipped = fromNpm(name);
    if (shipped) return { ok: true, path: shipped, source: 'npm' };
    return { ok: false, path: null, source: null, problem: `${name} was not found on PATH` };
  }
  // A bare name in the config ("ffmpeg7") means a command on PATH; anything with a slash is a path.
  const location =
    configured.includes('/') || configured.includes(path.sep)
      ? path.resolve(configured)
      : (findOnPath(configured, env) ?? configured);
  if (isExecutableFile(location)) return { ok: true, path: location, source: 'config' };
  const why = fs.existsSync(location) ? 'is not an executable file' : 'does not exist';
  return {
    ok: false,
    path: location,
    source: 'config',
    problem: `${name} at ${location} (from config.json) ${why}`,
  };
}

export async function detectFfTool(
  name: FfmpegToolName,
  configured: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<ToolReport> {
  const found = locateFfTool(name, configured, env);
  if (!found.ok) {
    return {
      name,
      version: null,
      path: found.path,
      source: found.source,
      ok: false,
      problem: found.problem,
      hint: INSTALL_HINT(name),
    };
  }
  const { path: location, source } = found;
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
