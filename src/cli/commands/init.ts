import type { Command } from 'commander';
import { initHome } from '../../home/home.js';
import { resolveHomePath } from '../../home/home-path.js';
import { refuseHomeInsideKnownSource, rememberHome } from '../../home/known-homes.js';
import { emit, type GlobalOptions } from '../output.js';

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('create the home: database, artifact store, config (safe to run again)')
    .action(async (_options: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const requested = resolveHomePath(options.home);
      refuseHomeInsideKnownSource(requested);
      const { home, created } = await initHome(requested);
      rememberHome(home.layout.root);
      await home.close();
      emit(
        options,
        { home: home.layout.root, created, database: home.layout.database, config: home.layout.config },
        () =>
          created
            ? `Created the Archivist home at ${home.layout.root}\nNext: archivist source add <name> <path>`
            : `${home.layout.root} is already an Archivist home; nothing changed.`,
      );
    });
}
