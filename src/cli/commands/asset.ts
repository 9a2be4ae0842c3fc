import type { Command } from 'commander';
import { assetDetail, type AssetDetail } from '../../catalog/asset-detail.js';
import { findAsset } from '../../catalog/find-asset.js';
import { metadataLines } from '../metadata-lines.js';
import { emit, formatBytes, table, type GlobalOptions } from '../output.js';
import { printable } from '../printable.js';
import { withHome } from '../with-home.js';

function describe(asset: AssetDetail): string {
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
        `  ${l.status === 'missing' ? `MISSING since ${l.missingSince ?? '?'}: ` : ''}${printable(l.source)}:${printable(l.path)}\n    ${printable(l.absolutePath)}  (modified ${l.mtime})`,
    ),
    `Artifacts (${asset.artifacts.length}):${asset.artifacts.length === 0 ? ' none yet (no run has processed this asset)' : ''}`,
    ...asset.artifacts.map(
      (a) =>
        `  ${a.current ? '*' : ' '} ${a.kind.padEnd(10)} ${a.id}  ${a.mime} ${formatBytes(a.size)}  ${a.lineage.pipeline} ${a.step} ` +
        `run ${a.runId} ${a.createdAt}${a.expiresAt ? `, expires ${a.expiresAt}` : ''}\n` +
        `      decoder ${a.lineage.decoder ?? `(not recorded; tool set ${a.lineage.tool.name} ${a.lineage.tool.version})`}\n` +
        `      params ${JSON.stringify(a.lineage.params)}\n      ${a.path}`,
    ),
  ];
  if (asset.artifacts.some((a) => a.current)) {
    lines.push('  (* current: the artifact this asset shows now; the others are older or sandbox results)');
  }
  if (asset.sidecars.length > 0) {
    lines.push(`Sidecars (${asset.sidecars.length}):`);
    for (const s of asset.sidecars)
      lines.push(`  ${s.kind.padEnd(12)} ${printable(s.source)}:${printable(s.path)}  ${s.sha256}`);
  }
  if (asset.metadataStatus?.stale) {
    lines.push(`Metadata is STALE (a new run recomputes it):`);
    for (const reason of asset.metadataStatus.reasons) lines.push(`  ${printable(reason)}`);
  } else if (asset.metadataStatus && asset.metadataStatus.reasons.length > 0) {
    for (const reason of asset.metadataStatus.reasons) lines.push(`Note: ${printable(reason)}`);
  }
  if (asset.related.length > 0) {
    lines.push(`Related (${asset.related.length}):`);
    for (const r of asset.related)
      lines.push(
        `  ${r.relation.padEnd(16)} ${r.artifactId ? `artifact ${r.artifactId}` : r.assetId}${r.path ? `  ${printable(r.path)}` : ''}`,
      );
  }
  if (asset.metadata && typeof asset.metadata === 'object') {
    lines.push('Metadata:');
    lines.push(...metadataLines(asset.metadata as Record<string, unknown>).map((line) => `  ${line}`));
  }
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
        const json = await assetDetail(home, asset);
        emit(options, json, () => describe(json));
      });
    });
}
