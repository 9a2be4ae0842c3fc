import type { Config } from '../../home/config.js';
import { endExiftool } from './exiftool-tool.js';
import { configureFfTools } from './ffmpeg-run.js';

/**
 * Process-wide set-up and tear-down of the tool ports. A worker process calls `configureTools` once
 * after opening its home (so the paths in config.json win), and `endTools` before it exits (so the
 * long-lived exiftool child ends with it; batch-cluster's exit hooks are only the backstop).
 */
export function configureTools(tools: Config['tools']): void {
  configureFfTools(tools);
}

export async function endTools(): Promise<void> {
  await endExiftool();
}
