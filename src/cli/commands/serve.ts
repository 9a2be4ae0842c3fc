import { once } from 'node:events';
import os from 'node:os';
import type { Command } from 'commander';
import { z } from 'zod';
import { ArchivistError, errnoCode } from '../../errors.js';
import { emit, type GlobalOptions } from '../output.js';
import { withHome } from '../with-home.js';
import { wholeNumber } from '../../whole-number.js';

const ServeOptions = z.object({
  host: z.string().min(1),
  port: wholeNumber({ min: 0, max: 65535 }),
});

/** Resolves on the first SIGINT or SIGTERM: the server then closes and the home with it. */
async function stopSignal(): Promise<NodeJS.Signals> {
  const controller = new AbortController();
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
  const received = await Promise.race(
    signals.map((signal) => once(process, signal, { signal: controller.signal }).then(() => signal)),
  );
  controller.abort();
  return received;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('the HTTP API and the web UI (runs it starts go on in the background if it stops)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0: any free port)', '8750')
    .action(async (_options: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const parsed = ServeOptions.safeParse(command.opts());
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new ArchivistError('usage', `--${issue.path.join('.')}: ${issue.message}`);
      }
      const { host, port } = parsed.data;
      await withHome(options, async (home) => {
        // Loaded here, not at the top: every other command (a worker, `run start`) would pay for fastify's
        // start-up without using it.
        const { buildServer } = await import('../../api/server.js');
        const { isLoopback } = await import('../../api/access.js');
        const accessToken = process.env.ARCHIVIST_ACCESS_TOKEN || home.config.server.accessToken;
        if (accessToken !== undefined && accessToken.length < 32) {
          throw new ArchivistError('usage', 'ARCHIVIST_ACCESS_TOKEN: at least 32 characters', {
            hint: 'Make one with `openssl rand -hex 32`.',
          });
        }
        // A warning is not enough for an archive of private photos: beyond loopback, no token, no server.
        if (!isLoopback(host) && !accessToken) {
          throw new ArchivistError('usage', `--host ${host}: serving beyond loopback needs an access token`, {
            hint:
              `Set "server": {"accessToken": "<at least 32 characters>"} in ${home.layout.config} ` +
              '(for example from `openssl rand -hex 32`) or ARCHIVIST_ACCESS_TOKEN, then start again; ' +
              'every request must then carry it.',
          });
        }
        const app = await buildServer(home, {
          host,
          allowedHosts: home.config.server.allowedHosts,
          accessToken,
        });
        try {
          await app.listen({ host, port });
        } catch (error) {
          await app.close();
          if (errnoCode(error) === 'EADDRINUSE')
            throw new ArchivistError('usage', `port ${port} on ${host} is in use`, {
              hint: 'Choose another with --port N (or --port 0 for any free one).',
            });
          throw new ArchivistError('io', `cannot listen on ${host}:${port}: ${(error as Error).message}`, {
            cause: error,
          });
        }
        const address = app.server.address();
        const actualPort = address && typeof address === 'object' ? address.port : port;
        const shownHost = host === '0.0.0.0' || host === '::' ? os.hostname() : host;
        const url = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${actualPort}/`;
        emit(
          options,
          {
            url,
            host,
            port: actualPort,
            home: home.layout.root,
            pid: process.pid,
            tokenRequired: accessToken !== undefined,
          },
          () =>
            [
              `Archivist is serving ${url}  (home ${home.layout.root})`,
              ...(accessToken
                ? [
                    `Every request needs the access token. Open ${url}?token=${accessToken} once in a browser;`,
                    `scripts send \`Authorization: Bearer <token>\`.`,
                  ]
                : []),
              'Press Ctrl+C to stop; runs started from the UI go on in the background.',
            ].join('\n'),
        );
        await stopSignal();
        await app.close();
      });
    });
}
