/**
 * Helpers shared by the benchmark suite (scripts/bench/*.mjs): a seeded random generator, child processes
 * with timing, machine facts, formatting.
 */
import { Buffer } from 'node:buffer';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { setTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Where the bench keeps what is expensive to make and worth reusing (generated archives): the user's
 * cache directory, not the temp folder, which is for what a run cleans up after itself.
 */
export function benchCacheDir(name) {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'archivist-bench', name);
}
export const CLI = path.join(REPO, 'dist/cli/main.js');

export function log(message) {
  process.stderr.write(`bench: ${message}\n`);
}

/** xorshift128: deterministic from the seed. `next()` gives a uint32; helpers on top. */
export function makeRandom(seed) {
  let x = seed >>> 0 || 1;
  let y = 362436069;
  let z = 521288629;
  let w = 88675123;
  const next = () => {
    const t = x ^ (x << 11);
    x = y;
    y = z;
    z = w;
    w = (w ^ (w >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
    return w;
  };
  for (let i = 0; i < 16; i++) next();
  const random = {
    next,
    float: () => next() / 4294967296,
    int: (min, max) => min + (next() % (max - min + 1)),
    pick: (list) => list[next() % list.length],
    chance: (p) => next() / 4294967296 < p,
  };
  return random;
}

/**
 * CPU time (user + system, ms) of this process's reaped children, from /proc/self/stat; null off Linux.
 */
export function childrenCpuMs() {
  try {
    const stat = fs.readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[13]) + Number(fields[14])) * 1000) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Runs a command; resolves {code, stdout, stderr, wallMs, cpuMs}; rejects on a non-zero exit unless allowed. */
export function run(command, args, { env, allowFail = false, cwd } = {}) {
  return new Promise((resolve, reject) => {
    const cpuBefore = childrenCpuMs();
    const started = performance.now();
    const child = spawn(command, args, {
      env: env ?? process.env,
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stdout = [];
    const stderr = [];
    child.stdout.on('data', (chunk) => stdout.push(chunk));
    child.stderr.on('data', (chunk) => stderr.push(chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const wallMs = performance.now() - started;
      const cpuAfter = childrenCpuMs();
      const result = {
        code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        wallMs,
        cpuMs: cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore,
        pid: child.pid,
      };
      if (code !== 0 && !allowFail) {
        reject(
          new Error(
            `${path.basename(command)} ${args.join(' ')} exited ${code ?? signal}\n${result.stderr.slice(-2000)}`,
          ),
        );
      } else resolve(result);
    });
  });
}

/** The CLI against one home, with a clean environment for it. */
export function cli(home, args, options = {}) {
  return run(process.execPath, [...(options.nodeArgs ?? []), CLI, '--home', home, ...args], {
    ...options,
    env: { ...process.env, ARCHIVIST_HOME: '', CI: 'true', ...(options.env ?? {}) },
  });
}

function toolVersion(command, args, pattern) {
  try {
    const out = execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const match = pattern.exec(out);
    return match ? match[1] : out.split('\n')[0].trim();
  } catch {
    return null;
  }
}

export async function machineFacts(workDir) {
  let filesystem = null;
  try {
    filesystem = execFileSync('df', ['-T', workDir], { encoding: 'utf8' }).split('\n')[1]?.split(/\s+/)[1];
  } catch {
    /* not essential */
  }
  let sharpVersions = null;
  try {
    const sharp = (await import('sharp')).default;
    sharpVersions = `${sharp.versions.sharp} (libvips ${sharp.versions.vips})`;
  } catch {
    /* reported as null */
  }
  let exiftool = null;
  try {
    // Its own instance: the shared one may have been ended by the generator already.
    const { ExifTool } = await import('exiftool-vendored');
    const et = new ExifTool({ maxProcs: 1 });
    exiftool = await et.version();
    await et.end();
  } catch {
    /* reported as null */
  }
  let commit = null;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).trim();
  } catch {
    /* not a checkout */
  }
  return {
    date: new Date().toISOString(),
    hostname: os.hostname(),
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? null,
    memoryBytes: os.totalmem(),
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadAverage: os.loadavg(),
    workDirFilesystem: filesystem ?? null,
    commit,
    tools: {
      sharp: sharpVersions,
      exiftool,
      ffmpeg: toolVersion('ffmpeg', ['-version'], /ffmpeg version (\S+)/),
      ffprobe: toolVersion('ffprobe', ['-version'], /ffprobe version (\S+)/),
      sha256sum: toolVersion('sha256sum', ['--version'], /sha256sum \(GNU coreutils\) (\S+)/),
      sqlite: null,
    },
  };
}

export const median = (values) => {
  const sorted = values.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

export const fmt = (n, digits = 0) =>
  typeof n === 'number' && Number.isFinite(n)
    ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : '—';

/** The real path of a path that may not exist yet. */
export function realpathOfNearest(target) {
  let existing = path.resolve(target);
  const rest = [];
  while (!fs.existsSync(existing)) {
    rest.unshift(path.basename(existing));
    existing = path.dirname(existing);
  }
  return path.join(fs.realpathSync(existing), ...rest);
}

export function isWithin(child, parent) {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
