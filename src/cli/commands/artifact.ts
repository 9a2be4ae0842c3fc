import type { Command } from 'commander';
import { toArtifactJson } from '../../artifacts/artifact-json.js';
import { ArchivistError } from '../../errors.js';
import { findArtifacts } from '../../store/artifacts-repository.js';
import { emit, formatBytes, table, type GlobalOptions } from '../output.js';
import { withHome } from '../with-home.js';

export function registerArtifact(program: Command): void {
  program
    .command('artifact <artifact-id>')
    .description('one artifact with its full lineage (id or id prefix)')
    .action(async (ref: string, _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      await withHome(options, async (home) => {
        const matches = await findArtifacts(home.db, ref.startsWith('a-') ? ref : `a-${ref}`);
        if (matches.length === 0) throw new ArchivistError('not-found', `there is no artifact ${ref}`);
        if (matches.length > 1) {
          throw new ArchivistError('usage', `the artifact prefix ${ref} matches several artifacts`, {
            hint: `Give more characters: ${matches.map((m) => m.id).join(', ')}`,
          });
        }
        const a = toArtifactJson(home.layout, matches[0]!);
        emit(options, a, () =>
          [
            `Artifact ${a.id} (${a.kind}${a.current ? ', current' : ''})`,
            table([
              ['asset', a.assetId],
              ['file', `${a.path} (${a.mime}, ${formatBytes(a.size)})`],
              ['sha256', a.sha256],
              ['policy', `${a.policy}${a.expiresAt ? `, expires ${a.expiresAt}` : ', kept'}`],
              ...(a.promotedBy
                ? [
                    [
                      'promoted',
                      `by production run ${a.promotedBy.runId} at ${a.promotedBy.at} (made by the sandbox run below)`,
                    ],
                  ]
                : []),
              ['run', a.lineage.runId],
              ['pipeline', `${a.lineage.pipeline} step ${a.lineage.step}`],
              ['decoder', a.lineage.decoder ?? '(not recorded)'],
              ['tool set', `${a.lineage.tool.name} ${a.lineage.tool.version}`],
              ['params', JSON.stringify(a.lineage.params)],
              [
                'inputs',
                a.lineage.inputs
                  .map((i) => `${i.artifactId ?? i.assetId} (sha256 ${i.sha256.slice(0, 12)}…)`)
                  .join(', '),
              ],
              ['made', `${a.lineage.createdAt} by ${a.lineage.worker} in ${a.lineage.durationMs} ms`],
            ]).replace(/^/gm, '  '),
          ].join('\n'),
        );
      });
    });
}
