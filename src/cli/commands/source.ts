import type { Command } from 'commander';
import { sourceListJson } from '../../catalog/source-json.js';
import { addSource } from '../../catalog/sources.js';
import { rememberHome } from '../../home/known-homes.js';
import { emit, table, type GlobalOptions } from '../output.js';
import { printable } from '../printable.js';
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
        rememberHome(home.layout.root, row.path);
        emit(options, { name: row.name, path: row.path, createdAt: row.created_at }, () =>
          [
            `Added source "${printable(row.name)}" at ${printable(row.path)} (read-only).`,
            `Next: archivist catalog ${printable(row.name)}`,
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
        const json = await sourceListJson(home.db);
        emit(options, json, () =>
          json.length === 0
            ? 'No sources yet. Add one with: archivist source add <name> <path>'
            : table([
                ['NAME', 'FILES', 'MISSING', 'LAST CATALOG', 'PATH'],
                ...json.map((s) => [
                  printable(s.name),
                  String(s.files),
                  String(s.missing),
                  s.lastCatalogedAt ?? 'never',
                  printable(s.path),
                ]),
              ]),
        );
      });
    });
}
