import type { Command } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { inspectHome, type HomeInspection } from '../../home/inspect-home.js';
import { resolveHomePath } from '../../home/home-path.js';
import { detectExiftool, type ExiftoolReport } from '../../pipeline/tools/exiftool-tool.js';
import { detectFfmpeg, detectFfprobe } from '../../pipeline/tools/ffmpeg-tool.js';
import { detectSharp, type SharpReport } from '../../pipeline/tools/sharp-tool.js';
import { heifDecoderVersion } from '../../pipeline/tools/heif-tool.js';
import type { ToolReport } from '../../pipeline/tools/tool.js';
import { configureVips, detectNativeVips, NATIVE_HINT } from '../../pipeline/tools/vips-cli.js';
import { emit, formatBytes, table, type GlobalOptions } from '../output.js';

type Status = 'ok' | 'warning' | 'error';

/** Any tool's report, with the extras some of them carry (sharp's libvips, exiftool's perl). */
type DetectedTool = ToolReport & Partial<Pick<SharpReport, 'libvips'> & Pick<ExiftoolReport, 'perl'>>;

interface Check {
  name: string;
  status: Status;
  message: string;
  hint?: string;
}

interface DiskSpace {
  /** The directory measured: the home, or its nearest existing parent when the home does not exist yet. */
  path: string;
  freeBytes: number;
  totalBytes: number;
}

/** Below either of these the disk is worth a warning: artifacts of a large archive need room. */
const LOW_DISK_BYTES = 1e9;
const LOW_DISK_FRACTION = 0.05;

/** Tools without which M1 cannot work at all, versus those only video needs (a warning for now). */
const REQUIRED_TOOLS: ReadonlySet<string> = new Set(['sharp', 'exiftool']);

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('tools found and their versions, the home, free disk, database health (changes nothing)')
    .action(async (_options: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const home = await inspectHome(resolveHomePath(options.home));
      configureVips(home.tools);
      const [sharp, exiftool, ffmpeg, ffprobe, vipsthumbnail] = await Promise.all([
        detectSharp(),
        detectExiftool(),
        detectFfmpeg(home.tools),
        detectFfprobe(home.tools),
        detectNativeVips(),
      ]);
      const tools: DetectedTool[] = [sharp, exiftool, ffmpeg, ffprobe, vipsthumbnail];
      const decoders = decodersOf(vipsthumbnail);
      const disk = await diskSpace(home.path);
      const checks = [
        ...tools.filter((t) => t !== vipsthumbnail).map(toolCheck),
        decoderCheck(decoders, vipsthumbnail),
        ...homeChecks(home),
        diskCheck(disk),
      ];
      const errors = checks.filter((check) => check.status === 'error').length;
      const warnings = checks.filter((check) => check.status === 'warning').length;
      const json = {
        ok: errors === 0,
        errors,
        warnings,
        checks,
        tools,
        decoders,
        home: { path: home.path, state: home.state, message: home.message, createdAt: home.createdAt },
        database: home.database,
        config: home.config,
        disk,
      };
      emit(options, json, () => render(checks, errors, warnings));
      // Only a broken required part fails the command; warnings (no ffmpeg yet, no home yet) do not.
      process.exitCode = errors > 0 ? 1 : 0;
    });
}

function toolCheck(tool: DetectedTool): Check {
  if (!tool.ok) {
    const required = REQUIRED_TOOLS.has(tool.name);
    return {
      name: tool.name,
      status: required ? 'error' : 'warning',
      message: required ? tool.problem! : `${tool.problem!} (needed for videos; images work without it)`,
      ...(tool.hint ? { hint: tool.hint } : {}),
    };
  }
  const extra =
    tool.libvips !== undefined ? `, libvips ${tool.libvips ?? '?'}` : tool.perl ? `, perl ${tool.perl}` : '';
  return { name: tool.name, status: 'ok', message: `${tool.version}${extra} (${tool.source}) ${tool.path}` };
}

/** Which decoder HEIC/HEIF (and 10/12-bit AVIF, JPEG XL) pictures go through on this machine. */
interface Decoders {
  heic: {
    /** `native`: the system's vipsthumbnail with libheif; `wasm`: the WebAssembly fallback; `none`. */
    path: 'native' | 'wasm' | 'none';
    native: string | null;
    wasm: string | null;
  };
}

function decodersOf(vips: ToolReport): Decoders {
  const wasm = heifDecoderVersion();
  const native = vips.ok ? `vipsthumbnail ${vips.version ?? '?'}` : null;
  return { heic: { path: native ? 'native' : wasm ? 'wasm' : 'none', native, wasm } };
}

function decoderCheck(decoders: Decoders, vips: ToolReport): Check {
  const { heic } = decoders;
  switch (heic.path) {
    case 'native':
      return {
        name: 'heic',
        status: 'ok',
        message: `native: ${heic.native} (${vips.source}) ${vips.path}; fallback ${heic.wasm ?? 'none'}`,
      };
    case 'wasm':
      return {
        name: 'heic',
        status: 'warning',
        message: `WebAssembly fallback: ${heic.wasm} (about 10× slower; no 10/12-bit AVIF, no JPEG XL); native path: ${vips.problem ?? 'not found'}`,
        hint: NATIVE_HINT,
      };
    case 'none':
      return {
        name: 'heic',
        status: 'warning',
        message: `no HEIC decoder: ${vips.problem ?? 'vipsthumbnail not found'}, and heic-decode is not installed`,
        hint: NATIVE_HINT,
      };
  }
}

function homeChecks(home: HomeInspection): Check[] {
  const checks: Check[] = [];
  const homeStatus: Status =
    home.state === 'ok'
      ? 'ok'
      : home.state === 'missing' || home.state === 'empty'
        ? 'warning' // the normal state before `init`
        : 'error'; // the home given cannot be used: every other command would refuse it
  checks.push({
    name: 'home',
    status: homeStatus,
    message: home.createdAt ? `${home.message} (created ${home.createdAt})` : home.message,
    ...(home.hint ? { hint: home.hint } : {}),
  });
  if (home.database) {
    const { ok, integrity, migrations } = home.database;
    if (!ok) {
      checks.push({
        name: 'database',
        status: 'error',
        message: `integrity check failed: ${integrity}`,
        hint: 'Stop all Archivist processes and restore archivist.db from a backup; do not keep writing to it.',
      });
    } else if (migrations.unknown.length > 0) {
      checks.push({
        name: 'database',
        status: 'error',
        message: `written by a newer Archivist (migrations ${migrations.unknown.join(', ')})`,
        hint: 'Upgrade Archivist, or use another --home.',
      });
    } else {
      const pending =
        migrations.pending.length > 0
          ? `; pending ${migrations.pending.join(', ')} (applied by the next command)`
          : '';
      checks.push({
        name: 'database',
        status: 'ok',
        message: `${serverLine(home.database)}integrity ok; migrations ${migrations.applied.join(', ') || '(none)'}${pending}`,
      });
    }
  }
  if (home.config) {
    checks.push(
      home.config.ok
        ? { name: 'config', status: 'ok', message: `${home.config.path} is valid` }
        : {
            name: 'config',
            status: 'error',
            message: home.config.problem ?? 'invalid',
            hint: 'Fix the keys named, or delete config.json to get the defaults back.',
          },
    );
  }
  return checks;
}

/** "PostgreSQL 15.14 at postgres://…, 0.4 ms, pool 1/4 (1 idle); " or "SQLite 3.53.2; ". */
function serverLine(database: NonNullable<HomeInspection['database']>): string {
  const server = database.server;
  if (!server) return '';
  if (server.kind === 'sqlite') return `SQLite ${server.version}; `;
  const pool = server.pool
    ? `, pool ${server.pool.total}/${server.pool.max} (${server.pool.idle} idle, ${server.pool.waiting} waiting)`
    : '';
  return `PostgreSQL ${server.version} at ${database.path}, latency ${server.latencyMs ?? '?'} ms${pool}; `;
}

function diskCheck(disk: DiskSpace | null): Check {
  if (!disk) return { name: 'disk', status: 'warning', message: 'free space could not be measured' };
  const fraction = disk.totalBytes > 0 ? disk.freeBytes / disk.totalBytes : 0;
  const message =
    `${formatBytes(disk.freeBytes)} free of ${formatBytes(disk.totalBytes)} ` +
    `(${(fraction * 100).toFixed(0)}%) on the filesystem of ${disk.path}`;
  if (disk.freeBytes < LOW_DISK_BYTES || fraction < LOW_DISK_FRACTION) {
    return {
      name: 'disk',
      status: 'warning',
      message,
      hint: 'Thumbnails and metadata need room; free some space.',
    };
  }
  return { name: 'disk', status: 'ok', message };
}

/**
 * Free space for an unprivileged user (bavail, not bfree) on the home's filesystem; before `init` the home
 * does not exist, so its nearest existing parent tells where it would be created.
 */
async function diskSpace(homePath: string): Promise<DiskSpace | null> {
  let dir = homePath;
  while (!fs.existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  try {
    const stats = await fs.promises.statfs(dir);
    return { path: dir, freeBytes: stats.bavail * stats.bsize, totalBytes: stats.blocks * stats.bsize };
  } catch {
    return null;
  }
}

const LABEL: Record<Status, string> = { ok: 'ok', warning: 'WARN', error: 'ERROR' };

function render(checks: readonly Check[], errors: number, warnings: number): string {
  const rows = checks.map((check) => [LABEL[check.status], check.name, check.message]);
  const lines = table(rows).split('\n');
  // Hints go under the message column, so they read as part of the check they belong to.
  const width = (col: number) => Math.max(...rows.map((row) => row[col]!.length));
  const indent = ' '.repeat(width(0) + width(1) + 4);
  const out: string[] = [];
  checks.forEach((check, index) => {
    out.push(lines[index]!);
    if (check.hint) out.push(`${indent}${check.hint}`);
  });
  out.push('');
  if (errors > 0) out.push(`${errors} error(s), ${warnings} warning(s): fix the errors above.`);
  else if (warnings > 0) out.push(`No errors, ${warnings} warning(s).`);
  else out.push('Everything is fine.');
  return out.join('\n');
}
