import type { Command } from 'commander';
import { ArchivistError } from '../../errors.js';
import { initHome } from '../../home/home.js';
import { resolveHomePath } from '../../home/home-path.js';
import { refuseHomeInsideKnownSource, rememberHome } from '../../home/known-homes.js';
import { isPostgresUrl, redactUrl } from '../../store/postgres/postgres-url.js';
import { emit, type GlobalOptions } from '../output.js';

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('create the home: database, artifact store, config (safe to run again)')
    .option(
      '--database <url>',
      'a PostgreSQL URL (postgres://user@host/db) as the shared truth store (default: $ARCHIVIST_DATABASE_URL, else SQLite in the home)',
    )
    .action(async (_options: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions & { database?: string }>();
      const databaseUrl = options.database ?? (process.env.ARCHIVIST_DATABASE_URL || undefined);
      if (databaseUrl !== undefined && !isPostgresUrl(databaseUrl)) {
        throw new ArchivistError('usage', `--database ${databaseUrl}: not a postgres:// URL`, {
          hint: 'Give postgres://user[:password]@host[:port]/database, or leave it out for SQLite in the home.',
        });
      }
      const requested = resolveHomePath(options.home);
      refuseHomeInsideKnownSource(requested);
      const { home, created } = await initHome(requested, { databaseUrl });
      rememberHome(home.layout.root);
      await home.close();
      const database = databaseUrl ? redactUrl(databaseUrl) : home.layout.database;
      emit(
        options,
        {
          home: home.layout.root,
          created,
          database,
          databaseKind: home.database.kind,
          archiveId: home.archiveId,
          config: home.layout.config,
        },
        () =>
          created
            ? `Created the Archivist home at ${home.layout.root} (database ${database})\nNext: archivist source add <name> <path>`
            : `${home.layout.root} is already an Archivist home; nothing changed.`,
      );
    });
}
