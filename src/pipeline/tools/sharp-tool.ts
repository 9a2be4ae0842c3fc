import { createRequire } from 'node:module';
import path from 'node:path';
import { messageOf, type ToolReport } from './tool.js';

export interface SharpReport extends ToolReport {
  name: 'sharp';
  /** The libvips sharp was built against; the decoders (HEIF, TIFF, WebP...) are libvips's. */
  libvips: string | null;
}

/**
 * Loads sharp and reports its version and the libvips it runs on. Loaded lazily: the native binding is
 * what fails on a machine with a broken install, and that must be reported, not crash the command.
 */
export async function detectSharp(): Promise<SharpReport> {
  const location = packageDir('sharp');
  try {
    const sharp = (await import('sharp')).default;
    const versions = sharp.versions as Record<string, string | undefined>;
    return {
      name: 'sharp',
      version: versions.sharp ?? null,
      libvips: versions.vips ?? null,
      path: location,
      source: 'npm',
      ok: true,
    };
  } catch (error) {
    return {
      name: 'sharp',
      version: null,
      libvips: null,
      path: location,
      source: location ? 'npm' : null,
      ok: false,
      problem: `sharp cannot be loaded: ${messageOf(error)}`,
      hint: 'Reinstall the dependencies (`npm ci`); sharp downloads a prebuilt libvips for this platform.',
    };
  }
}

function packageDir(name: string): string | null {
  try {
    // Resolving does not load the native binding, so the location is known even when loading fails.
    const entry = createRequire(import.meta.url).resolve(name);
    const marker = `${path.sep}node_modules${path.sep}${name}${path.sep}`;
    const index = entry.lastIndexOf(marker);
    return index === -1 ? path.dirname(entry) : entry.slice(0, index + marker.length - 1);
  } catch {
    return null;
  }
}
