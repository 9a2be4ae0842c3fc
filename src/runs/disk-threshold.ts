import fs from 'node:fs';
import { ArchivistError } from '../errors.js';

const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/** `500MB`, `2GB`, `1.5GiB`, `123456` (bytes) or `5%` (of the store's filesystem), as bytes. */
export function parseMinFree(spec: string, filesystemBytes: number): number {
  const text = spec.trim().toLowerCase();
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(text);
  if (percent) {
    const value = Number(percent[1]);
    if (value > 100)
      throw new ArchivistError('usage', `--min-free ${spec}: a percentage must be at most 100%`, {
        field: 'minFree',
      });
    return Math.ceil((filesystemBytes * value) / 100);
  }
  const sized = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/.exec(text);
  const unit = sized ? UNITS[sized[2] || 'b'] : undefined;
  if (!sized || unit === undefined) {
    throw new ArchivistError('usage', `--min-free ${spec}: not a size`, {
      field: 'minFree',
      hint: 'Give bytes, a size such as 500MB or 2GB, or a percentage such as 5%.',
    });
  }
  return Math.ceil(Number(sized[1]) * unit);
}

export interface DiskSpace {
  free: number;
  total: number;
}

/** The real free space of the filesystem holding `dir`, as an unprivileged user may use it. */
export function diskSpace(dir: string): DiskSpace {
  const stats = fs.statfsSync(dir);
  return { free: stats.bavail * stats.bsize, total: stats.blocks * stats.bsize };
}

export function formatSize(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(2)} ${units[unit]}`;
}
