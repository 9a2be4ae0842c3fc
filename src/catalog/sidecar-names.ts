import { isRawExtension, MEDIA_EXTENSIONS } from './media-type.js';
import type { SidecarKind } from '../store/schema.js';

/**
 * Which media file a sidecar's name points at, in the same folder (PRODUCT section 4b):
 * - XMP: `IMG_1234.CR2.xmp` (darktable, digiKam) names its file exactly; `IMG_1234.xmp` (Lightroom,
 *   Capture One) names only the stem, and then belongs to the RAW of that stem if there is one.
 * - Google Takeout JSON: `IMG_1234.HEIC.json`, `IMG_1234.jpg.supplemental-metadata.json`, the older
 *   `IMG_1234.json`; a copy `IMG_1234(1).jpg` has `IMG_1234.jpg(1).json` or
 *   `IMG_1234.jpg.supplemental-metadata(1).json`; and Takeout cuts a JSON's whole name to 51 characters,
 *   so `…supplemental-met.json` or a long name cut mid-stem still finds its file (by prefix).
 * Pure: the catalog module (sidecar-links.ts) asks the database for the candidates named here.
 */

export interface SidecarPlan {
  kind: SidecarKind;
  /** Media file names to look for, best first. */
  exact: string[];
  /** A prefix of the media file name, for a name Takeout cut short; null when the name is whole. */
  prefix: string | null;
}

/** Takeout's limit on a JSON file's whole name; a name this long may have been cut. */
const TAKEOUT_NAME_LIMIT = 51;
/** A cut name shorter than this is not trusted as a prefix: it would match too much. */
const MIN_TRUNCATED_NAME = 46;

function extensionOf(name: string): string | null {
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return null;
  const ext = name.slice(dot + 1);
  return MEDIA_EXTENSIONS.includes(ext.toLowerCase()) ? ext : null;
}

/** `IMG_1234` + every media extension, in both cases, RAW formats first. */
function withEveryExtension(stem: string): string[] {
  const exts = [...MEDIA_EXTENSIONS].sort((a, b) => Number(isRawExtension(b)) - Number(isRawExtension(a)));
  return exts.flatMap((ext) => [`${stem}.${ext.toUpperCase()}`, `${stem}.${ext}`]);
}

function unique(names: string[]): string[] {
  return [...new Set(names)];
}

function xmpPlan(name: string): SidecarPlan {
  const stem = name.slice(0, -'.xmp'.length);
  const ext = extensionOf(stem);
  const base = ext ? stem.slice(0, -ext.length) : '';
  const exact = ext
    ? [stem, `${base}${ext.toUpperCase()}`, `${base}${ext.toLowerCase()}`]
    : withEveryExtension(stem);
  return { kind: 'xmp', exact: unique(exact), prefix: null };
}

function takeoutPlan(name: string): SidecarPlan | null {
  let rest = name.slice(0, -'.json'.length);
  // `(1)` at the very end belongs to the media file's stem: `IMG_1234.jpg(1).json` → `IMG_1234(1).jpg`.
  const copy = /\((\d+)\)$/.exec(rest);
  const counter = copy ? `(${copy[1]})` : '';
  if (copy) rest = rest.slice(0, -copy[0].length);
  // `.supplemental-metadata`, or any cut-off start of it (`.supplemental-met`, `.supp`).
  const supplemental = /^(.*\.[^.]+)\.(s[a-z-]*)$/i.exec(rest);
  if (supplemental && 'supplemental-metadata'.startsWith(supplemental[2]!.toLowerCase()))
    rest = supplemental[1]!;
  if (rest === '') return null;
  const ext = extensionOf(rest);
  const exact: string[] = [];
  if (ext) {
    const stem = rest.slice(0, -ext.length - 1);
    if (counter) exact.push(`${stem}${counter}.${ext}`);
    exact.push(`${rest}${counter}`, rest);
  } else {
    // The older `IMG_1234.json`: the stem alone.
    exact.push(...withEveryExtension(`${rest}${counter}`));
  }
  const cut = name.length >= MIN_TRUNCATED_NAME && name.length <= TAKEOUT_NAME_LIMIT;
  return { kind: 'takeout-json', exact: unique(exact), prefix: cut && !ext ? rest : null };
}

/** The plan for a file name, or null when it is not a sidecar's name. */
export function sidecarPlan(name: string): SidecarPlan | null {
  const lower = name.toLowerCase();
  if (lower.endsWith('.xmp') && name.length > 4) return xmpPlan(name);
  if (lower.endsWith('.json') && name.length > 5) return takeoutPlan(name);
  return null;
}

/** Of the media files a plan's prefix found, the one it means: the shortest name that extends it. */
export function matchPrefix(prefix: string, names: readonly string[]): string | null {
  const fitting = names.filter((n) => n.startsWith(prefix) && extensionOf(n) !== null);
  return fitting.sort((a, b) => a.length - b.length)[0] ?? null;
}
