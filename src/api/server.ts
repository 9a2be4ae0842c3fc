import Fastify, { type FastifyInstance } from 'fastify';
import type { Home } from '../home/home.js';
import { detectInterruptedRuns } from '../runs/detect-interrupted.js';
import { launchCoordinator } from '../runs/spawn-coordinator.js';
import { registerAccessControl, registerSecurityHeaders } from './access.js';
import type { ApiContext } from './context.js';
import { registerErrorHandler } from './http-errors.js';
import { registerArtifactRoutes } from './routes/artifacts.js';
import { registerAssetDetailRoutes } from './routes/asset-detail.js';
import { registerAssetRoutes } from './routes/assets.js';
import { registerCollectionRoutes } from './routes/collections.js';
import { registerPipelineRoutes } from './routes/pipelines.js';
import { registerRunActionRoutes } from './routes/run-actions.js';
import { registerRunEventRoutes } from './routes/run-events.js';
import { registerRunRoutes } from './routes/runs.js';
import { registerSourceRoutes } from './routes/sources.js';
import { defaultWebRoot, registerWeb } from './web.js';
import { ListingTotals } from './listing-totals.js';
import { OffThreadCounts } from './off-thread-counts.js';

export interface ServerOptions {
  /** The address the server will listen on: it decides which Host names are answered. */
  host?: string;
  /** Names besides loopback ones the server answers to (config `server.allowedHosts`). */
  allowedHosts?: readonly string[];
  /** Required on every request when set (config `server.accessToken`). */
  accessToken?: string | undefined;
  /** The built web app; default: dist/web. `null` serves the API alone. */
  webRoot?: string | null;
  /** How a planned run is started; default: a detached coordinator process (launchCoordinator). */
  launch?: ApiContext['launch'];
  /** How often interrupted runs are looked for; 0 turns it off. Default 5 s. */
  interruptedCheckMs?: number;
  progressIntervalMs?: number;
}

/**
 * The HTTP API and web UI over an open home. The caller owns the home (and closes it after the server).
 * Nothing here writes under a source: the API reads the catalog, starts runs through the shared run
 * requests, and streams originals only through the source reader.
 */
export async function buildServer(home: Home, options: ServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, forceCloseConnections: true });
  const ctx: ApiContext = {
    home,
    launch: options.launch ?? ((runId, workers) => launchCoordinator(home, runId, workers)),
    totals: new ListingTotals(),
    counts: home.database.kind === 'sqlite' ? new OffThreadCounts(home.layout.database) : undefined,
    progressIntervalMs: options.progressIntervalMs ?? 500,
    streams: new Set(),
  };

  registerErrorHandler(app);
  registerSecurityHeaders(app);
  registerAccessControl(app, {
    boundHost: options.host ?? '127.0.0.1',
    allowedHosts: options.allowedHosts ?? [],
    accessToken: options.accessToken,
  });
  registerSourceRoutes(app, ctx);
  registerAssetRoutes(app, ctx);
  registerAssetDetailRoutes(app, ctx);
  registerCollectionRoutes(app, ctx);
  registerRunRoutes(app, ctx);
  registerRunEventRoutes(app, ctx);
  registerRunActionRoutes(app, ctx);
  registerArtifactRoutes(app, ctx);
  registerPipelineRoutes(app, ctx);
  await registerWeb(app, options.webRoot === null ? undefined : (options.webRoot ?? defaultWebRoot()));

  // A run whose coordinator died is noticed at start and then every few seconds, as by any command.
  await detectInterruptedRuns(home.db);
  const every = options.interruptedCheckMs ?? 5000;
  let checking = false;
  const timer =
    every > 0
      ? setInterval(() => {
          if (checking) return;
          checking = true;
          detectInterruptedRuns(home.db)
            .catch((error: unknown) => process.stderr.write(`archivist serve: ${(error as Error).message}\n`))
            .finally(() => (checking = false));
        }, every)
      : undefined;
  timer?.unref();

  app.addHook('onClose', async () => {
    await ctx.counts?.close();
  });
  app.addHook('preClose', (done) => {
    if (timer) clearInterval(timer);
    for (const stop of [...ctx.streams]) stop();
    done();
  });
  return app;
}
