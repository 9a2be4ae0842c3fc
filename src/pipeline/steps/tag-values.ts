import type { RawTags } from '../tools/exiftool-tool.js';

/** Reading exiftool's values (numbers, strings, lists, blanks) as the plain types the artifact holds. */

/** The first of `keys` holding a value; keys are group-prefixed (`EXIF:Make`). */
export function pick(tags: RawTags, keys: readonly string[]): unknown {
  for (const key of keys) {
    const value = tags[key];
    if (value !== undefined && value !== null && value !== '') return value;
  }
  return undefined;
}

export function text(value: unknown): string | null {
  if (typeof value !== 'string' && typeof value !== 'number') return null;
  const trimmed = String(value).replace(/\0/g, '').trim();
  return trimmed === '' ? null : trimmed;
}

/** A positive finite number from a number or the first number in a string ("100 0" → 100). */
export function positive(value: unknown): number | null {
  const number =
    typeof value === 'number'
      ? value
      : typeof value === 'string'
        ? Number(value.trim().split(/\s+/)[0])
        : NaN;
  return Number.isFinite(number) && number > 0 ? number : null;
}

export function integer(value: unknown): number | null {
  const number = positive(value);
  return number === null ? null : Math.round(number);
}
