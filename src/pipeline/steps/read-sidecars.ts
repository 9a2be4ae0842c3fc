import { withOriginal } from '../../catalog/original-file.js';
import type { SidecarInput } from '../step.js';
import { readTags, type RawTags } from '../tools/exiftool-tool.js';

/**
 * Reads the sidecars the catalog linked to an asset, each through the read-only reader and checked
 * against what the catalog recorded (size, mtime, inode, and the hash for small files): the content read
 * is the content the lineage names, or the item fails as `source-changed`.
 */

export interface TakeoutJson {
  title?: unknown;
  description?: unknown;
  photoTakenTime?: { timestamp?: unknown };
  geoData?: { latitude?: unknown; longitude?: unknown; altitude?: unknown };
  geoDataExif?: { latitude?: unknown; longitude?: unknown; altitude?: unknown };
  [key: string]: unknown;
}

export interface SidecarContent {
  /** The XMP sidecar's own tags (group `XMP`), or null when the asset has none. */
  xmp: { path: string; tags: RawTags } | null;
  takeout: { path: string; json: TakeoutJson } | null;
  /** Every sidecar that was read, for the artifact's `sidecars` list. */
  read: { path: string; sha256: string; kind: SidecarInput['kind'] }[];
  /** Sidecars read but not used, with why (a JSON that is not Takeout's, a second XMP). */
  ignored: { path: string; why: string }[];
}

function isTakeout(json: unknown): json is TakeoutJson {
  if (!json || typeof json !== 'object' || Array.isArray(json)) return false;
  const object = json as Record<string, unknown>;
  return 'photoTakenTime' in object || 'geoData' in object || 'creationTime' in object;
}

export async function readSidecars(
  sidecars: readonly SidecarInput[],
  signal: AbortSignal,
  scratchDir: string,
): Promise<SidecarContent> {
  const content: SidecarContent = { xmp: null, takeout: null, read: [], ignored: [] };
  for (const sidecar of sidecars) {
    const facts = {
      size: sidecar.size,
      sha256: sidecar.sha256,
      mtimeNs: sidecar.mtimeNs,
      inode: sidecar.inode,
    };
    await withOriginal(sidecar.file, facts, async (file) => {
      content.read.push({ path: sidecar.path, sha256: sidecar.sha256, kind: sidecar.kind });
      if (sidecar.kind === 'xmp') {
        if (content.xmp) {
          content.ignored.push({
            path: sidecar.path,
            why: `a second XMP sidecar (${content.xmp.path} is used)`,
          });
          return;
        }
        const all = await readTags({ original: file, scratchDir }, signal);
        const tags = Object.fromEntries(Object.entries(all).filter(([key]) => key.startsWith('XMP:')));
        content.xmp = { path: sidecar.path, tags };
        return;
      }
      let json: unknown;
      try {
        json = JSON.parse((await file.read()).toString('utf8'));
      } catch (error) {
        content.ignored.push({ path: sidecar.path, why: `not JSON: ${(error as Error).message}` });
        return;
      }
      if (!isTakeout(json)) content.ignored.push({ path: sidecar.path, why: 'not a Google Takeout JSON' });
      else if (content.takeout)
        content.ignored.push({
          path: sidecar.path,
          why: `a second Takeout JSON (${content.takeout.path} is used)`,
        });
      else content.takeout = { path: sidecar.path, json };
    });
  }
  return content;
}
