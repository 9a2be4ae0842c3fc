import type { Command } from 'commander';
import { addSource } from '../../catalog/sources.js';
import { lastFinishedScans } from '../../store/scans-repository.js';
import { listSources, sourceLocationCounts } from '../../store/sources-repository.js';
import { emit, table, type GlobalOptions } from '../output.js';
import { withHome } from '../with-home.js';

export function registerSource(program: Command): void {
  const source = program.command('source').description('the archive folders Archivist reads (never writes)');

  source
    .command('add <name> <path>')
    .description('register a folder as a read-only source')
    .action(async (name: string, path: string, _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      await withHome(options, async (home) => {
        const row = await addSource(home, name, path);
        emit(options, { name: row.name, path: row.path, createdAt: row.created_at }, () =>
          [
            `Added source "${row.name}" at ${row.path} (read-only).`,
            `Next: archivist catalog ${row.name}`,
          ].join('\n'),
        );
      });
    });

  source
    .command('list')
    .description('the sources, with how much of each is cataloged')
    .action(async (_options: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      await withHome(options, async (home) => {
        const sources = await listSources(home.db);
        const counts = await sourceLocationCounts(home.db);
        const scanned = await lastFinishedScans(home.db);
        const json = sources.map((s) => ({
          name: s.name,
          path: s.path,
          createdAt: s.created_at,
          files: counts.get(s.id)?.present ?? 0,
          missing: counts.get(s.id)?.missing ?? 0,
          lastCatalogedAt: scanned.get(s.id) ?? null,
        }));
        emit(options, json, () =>
          json.length === 0
            ? 'No sources yet. Add one with: archivist source add <name> <path>'
            : table([
                ['NAME', 'FILES', 'MISSING', 'LAST CATALOG', 'PATH'],
                ...json.map((s) => [
                  s.name,
                  String(s.files),
                  String(s.missing),
                  s.lastCatalogedAt ?? 'never',
                  s.path,
                ]),
              ]),
        );
      });
    });
}
