import type { Config } from '../../home/config.js';
import { endExiftool } from './exiftool-tool.js';
import { configureFfTools } from './ffmpeg-run.js';
import { configurePixelLimit } from './sharp-tool.js';
import { configureVersionCache } from './version-cache.js';
import { configureVips } from './vips-cli.js';

/**
 * Process-wide set-up and tear-down of the tool ports. A worker process calls `configureTools` once
 * after opening its home (so the paths in config.json win, and versions are remembered in the home), and `endTools` before it exits (so the
 * long-lived exiftool child ends with it; batch-cluster's exit hooks are only the backstop).
 */
export function configureTools(tools: Config['tools'], versionCacheFile?: string): void {
  configureVersionCache(versionCacheFile);
  configureFfTools(tools);
  configureVips(tools);
  configurePixelLimit(tools.maxPixels);
}

export async function endTools(): Promise<void> {
  await endExiftool();
}
