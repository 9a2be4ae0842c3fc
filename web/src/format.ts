export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '-';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

/** Local date and time, to the second; the ISO text stays in the title for the exact value. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '-';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(undefined, { hour12: false });
}

export function shortId(id: string, length = 12): string {
  return id.length > length ? `${id.slice(0, length)}…` : id;
}

/** A value of any JSON shape as short readable text. */
export function show(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** Bytes as a person reads memory: MiB (1024²), as tools such as `top` and `free -m` show it. */
export function formatMiB(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return '-';
  const mib = bytes / 1024 / 1024;
  return mib >= 1024 ? `${(mib / 1024).toFixed(1)} GiB` : `${mib.toFixed(mib < 10 ? 1 : 0)} MiB`;
}

/** A length of time given in seconds: `42 s`, `3 min 05 s`, `1 h 02 min`. */
export function formatSeconds(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '-';
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const whole = Math.round(seconds);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = whole % 60;
  return h > 0 ? `${h} h ${String(m).padStart(2, '0')} min` : `${m} min ${String(s).padStart(2, '0')} s`;
}

/** A video's length on a tile: `0:07`, `12:34`, `1:02:03`. */
export function formatClock(seconds: number): string {
  const whole = Math.max(0, Math.round(seconds));
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = String(whole % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** An exposure time in seconds as cameras print it: `1/887 s` below a second, `2.5 s` above. */
export function formatExposure(seconds: unknown): string {
  if (typeof seconds === 'string') return /s$/.test(seconds.trim()) ? seconds : `${seconds} s`;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) return '-';
  if (seconds >= 1) return `${Number(seconds.toFixed(1))} s`;
  // 1/x: cameras store the shutter speed as a fraction; a float such as 0.0011273957 is 1/887.
  return `1/${Math.round(1 / seconds)} s`;
}

export function formatFNumber(value: unknown): string {
  return typeof value === 'number' && Number.isFinite(value) ? `f/${Number(value.toFixed(1))}` : '-';
}

export function formatFocalLength(value: unknown): string {
  if (typeof value === 'string') return value;
  return typeof value === 'number' && Number.isFinite(value) ? `${Number(value.toFixed(1))} mm` : '-';
}

/** Coordinates to 5 decimals (about a metre): enough to find the place, and what a map search takes. */
export function formatCoordinates(gps: { latitude: number; longitude: number }): string {
  return `${gps.latitude.toFixed(5)}, ${gps.longitude.toFixed(5)}`;
}

export function formatBitRate(bitsPerSecond: unknown): string {
  if (typeof bitsPerSecond !== 'number' || !Number.isFinite(bitsPerSecond)) return '-';
  return bitsPerSecond >= 1e6
    ? `${(bitsPerSecond / 1e6).toFixed(1)} Mbit/s`
    : `${Math.round(bitsPerSecond / 1000)} kbit/s`;
}

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

/** `2021-07` as `July 2021`; '' (no time at all) as "No date". */
export function formatMonth(month: string): string {
  const [year, m] = month.split('-');
  const name = MONTHS[Number(m) - 1];
  return name && year ? `${name} ${year}` : 'No date';
}

/** A wall-clock ISO time (no offset) as `4 Jul 2021, 21:15`, without moving it to the viewer's zone. */
export function formatWallClock(local: string, withTime = true): string {
  const match = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}))?/.exec(local);
  if (!match) return local;
  const [, y, mo, d, h, mi] = match;
  const date = `${Number(d)} ${MONTHS[Number(mo) - 1]!.slice(0, 3)} ${y}`;
  return withTime && h ? `${date}, ${h}:${mi}` : date;
}
