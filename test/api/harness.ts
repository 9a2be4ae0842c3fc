import { captureFactsOf } from '../../src/catalog/capture-facts.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { buildServer, type ServerOptions } from '../../src/api/server.js';
import { storeArtifactFile } from '../../src/artifacts/artifact-store.js';
import { cacheKeyOf } from '../../src/artifacts/cache-key.js';
import { catalogSource } from '../../src/catalog/catalog-source.js';
import { makeJunkFilter } from '../../src/catalog/junk.js';
import { addSource } from '../../src/catalog/sources.js';
import { initHome, type Home } from '../../src/home/home.js';
import { listPipelines, registerPipeline } from '../../src/pipeline/registry.js';
import type { StepOutput } from '../../src/pipeline/step.js';
import { claimWorkItem } from '../../src/runs/claim-work-item.js';
import { createCollection } from '../../src/runs/collections.js';
import { completeWorkItem, failWorkItem } from '../../src/runs/finish-work-item.js';
import { leaseOf } from '../../src/store/work-items-repository.js';
import { newArtifactId } from '../../src/runs/run-id.js';
import { getRun, transitionRun } from '../../src/store/runs-repository.js';
import { tempDir } from '../helpers/cli.js';
import { SQLITE, type TestDialect } from '../helpers/postgres.js';

/**
 * The API tests' world: a real temporary home with a small archive cataloged into it and a collection
 * `all`, a server built in-process (requests through `app.inject`), and a pipeline `apitest@1` known to
 * this process. Runs are not given to a coordinator process: `work` plays the worker in-process with the
 * run engine's own functions (claim, store, complete or fail), so every artifact has real lineage.
 */

const tool = { name: 'api-test-tool', version: () => Promise.resolve('2.5') };

export function registerApiTestPipeline(): void {
  if (listPipelines().some((p) => p.name === 'apitest')) return;
  registerPipeline({
    name: 'apitest',
    version: 1,
    description: 'metadata and thumbnail stand-ins for the API tests',
    steps: [
      {
        name: 'metadata',
        tool,
        artifactKind: 'metadata',
        mediaTypes: ['image', 'video'],
        params: z.object({}),
        run: () => Promise.reject(new Error('played in-process by the test')),
      },
      {
        name: 'thumbnail',
        tool,
        artifactKind: 'thumbnail',
        mediaTypes: ['image', 'video'],
        params: z.object({
          size: z.number().int().min(16).max(1024).default(256),
          fit: z.enum(['cover', 'contain']).default('contain'),
        }),
        run: () => Promise.reject(new Error('played in-process by the test')),
      },
    ],
  });
}

/** Minimal JPEG-looking bytes: the catalog sniffs them as image/jpeg. */
export function fakeJpeg(name: string): Buffer {
  return Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10]), Buffer.from(`api test ${name}\n`)]);
}

/** What the in-process worker does with an item: its file's metadata, or a failure. */
export type Outcome =
  { fail: { reason: string; message: string; stderrTail?: string } } | { metadata: unknown };

export interface ApiFixture {
  dir: string;
  archive: string;
  home: Home;
  app: FastifyInstance;
  launched: { runId: string; workers: number }[];
  json<T>(url: string): Promise<T>;
  post(url: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
  /** Processes every item of a run in-process, then marks it completed. */
  work(runId: string, decide: (file: string) => Outcome): Promise<void>;
  close(): Promise<void>;
}

export async function createApiFixture(
  files: Record<string, Buffer>,
  serverOptions: Pick<ServerOptions, 'host' | 'accessToken' | 'allowedHosts'> = {},
  /** The home's truth store: its own SQLite file, or a new database on the tests' PostgreSQL server. */
  dialect: TestDialect = SQLITE,
): Promise<ApiFixture> {
  registerApiTestPipeline();
  const { dir, cleanup } = tempDir('archivist-api-');
  const archive = path.join(dir, 'archive');
  for (const [rel, bytes] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(archive, rel)), { recursive: true });
    fs.writeFileSync(path.join(archive, rel), bytes);
  }
  const { home } = await initHome(path.join(dir, 'home'), { databaseUrl: await dialect.newDatabase() });
  const source = await addSource(home, 'archive', archive);
  const summary = await catalogSource(home.db, source, { isJunk: makeJunkFilter(), hashConcurrency: 2 });
  if (summary.errors.length > 0) throw new Error(`catalog errors: ${JSON.stringify(summary.errors)}`);
  await createCollection(home.db, 'all', {});
  const launched: ApiFixture['launched'] = [];
  const app = await buildServer(home, {
    ...serverOptions,
    webRoot: null,
    interruptedCheckMs: 0,
    progressIntervalMs: 50,
    launch: (runId, workers) => {
      launched.push({ runId, workers });
      return { pid: undefined };
    },
  });

  const json = async <T>(url: string): Promise<T> => {
    const response = await app.inject(url);
    if (response.statusCode !== 200) throw new Error(`GET ${url}: ${response.statusCode} ${response.body}`);
    return response.json<T>();
  };
  const post = async (url: string, body: unknown = {}) => {
    const response = await app.inject({
      method: 'POST',
      url,
      payload: body as Record<string, unknown>,
      headers: { 'x-archivist-request': '1' },
    });
    return { status: response.statusCode, body: response.json<Record<string, unknown>>() };
  };

  const work = async (runId: string, decide: (file: string) => Outcome) => {
    await transitionRun(home.db, runId, ['queued', 'cancelled', 'interrupted', 'paused'], 'running');
    const run = await getRun(home.db, runId);
    const params = JSON.parse(run.params_json) as Record<string, Record<string, unknown>>;
    const owner = `test-${process.pid}`;
    for (;;) {
      const claim = await claimWorkItem(home.db, {
        runId,
        owner,
        leaseMs: 60_000,
        needs: {},
        now: Date.now(),
      });
      if (claim.kind !== 'claimed') break;
      const item = claim.item;
      const location = await home.db
        .selectFrom('locations')
        .select('path')
        .where('asset_id', '=', item.asset_id)
        .executeTakeFirstOrThrow();
      const outcome = decide(location.path);
      if ('fail' in outcome) {
        await failWorkItem(home.db, item.id, leaseOf(item), { ...outcome.fail, retryable: false });
        continue;
      }
      const output: StepOutput =
        item.step === 'metadata'
          ? {
              bytes: Buffer.from(JSON.stringify(outcome.metadata)),
              mime: 'application/json',
              extension: 'json',
            }
          : {
              bytes: Buffer.from(`RIFF-thumbnail-of-${location.path}`),
              mime: 'image/webp',
              extension: 'webp',
            };
      const stored = await storeArtifactFile(home.layout, output);
      const stepParams = params[item.step] ?? {};
      const toolVersion = { name: 'api-test-tool', version: '2.5' };
      await completeWorkItem(home.db, item, owner, {
        durationMs: 12,
        makeCurrent: run.policy === 'production' ? { assetId: item.asset_id, kind: item.step } : null,
        capture: item.step === 'metadata' ? captureFactsOf(outcome.metadata) : undefined,
        artifact: {
          created: {
            id: newArtifactId(),
            kind: item.step,
            step: item.step,
            assetId: item.asset_id,
            runId,
            sha256: stored.sha256,
            size: stored.size,
            mime: output.mime,
            path: stored.path,
            cacheKey: cacheKeyOf({
              step: item.step,
              tool: toolVersion,
              params: stepParams,
              inputSha256: [item.asset_id],
            }),
            policy: run.policy,
            expiresAt: null,
          },
          lineage: {
            runId,
            pipeline: { name: run.pipeline_name, version: run.pipeline_version },
            step: item.step,
            tool: toolVersion,
            decoder: null,
            params: stepParams,
            inputs: [{ assetId: item.asset_id, sha256: item.asset_id }],
            worker: owner,
            host: os.hostname(),
            durationMs: 12,
            createdAt: new Date().toISOString(),
          },
        },
      });
    }
    await transitionRun(home.db, runId, ['running'], 'completed', { finished_at: new Date().toISOString() });
  };

  return {
    dir,
    archive,
    home,
    app,
    launched,
    json,
    post,
    work,
    async close() {
      await app.close();
      await home.close();
      cleanup();
    },
  };
}
