import type { Command } from 'commander';
import { toAssetJson, type AssetJson } from '../../catalog/asset-json.js';
import { findAsset } from '../../catalog/find-asset.js';
import { emit, formatBytes, table, type GlobalOptions } from '../output.js';
import { withHome } from '../with-home.js';

function describe(asset: AssetJson & { metadata: unknown; artifacts: unknown[] }): string {
  const lines = [
    `Asset ${asset.id}`,
    table([
      ['type', `${asset.mediaType}${asset.mime ? ` (${asset.mime})` : ''}`],
      ['size', `${formatBytes(asset.size)} (${asset.size} bytes)`],
      ['sha256', asset.sha256],
      ['first seen', asset.firstSeenAt],
    ]).replace(/^/gm, '  '),
    `Locations (${asset.locations.length}):`,
    ...asset.locations.map(
      (l) =>
        `  ${l.status === 'missing' ? `MISSING since ${l.missingSince ?? '?'}: ` : ''}${l.source}:${l.path}\n    ${l.absolutePath}  (modified ${l.mtime})`,
    ),
    `Artifacts: ${asset.artifacts.length === 0 ? 'none yet (no run has processed this asset)' : asset.artifacts.length}`,
  ];
  return lines.join('\n');
}

export function registerAsset(program: Command): void {
  program
    .command('asset <ref>')
    .description('everything known about one asset: by path (absolute or relative) or id prefix')
    .action(async (ref: string, _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      await withHome(options, async (home) => {
        const asset = await findAsset(home, ref, process.cwd());
        // Artifacts and metadata arrive with runs; the fields exist now so the contract does not change.
        const json = { ...toAssetJson(asset), artifacts: [] as unknown[], metadata: null };
        emit(options, json, () => describe(json));
      });
    });
}
