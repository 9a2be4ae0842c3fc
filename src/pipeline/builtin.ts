import { core2Pipeline, corePipeline } from './core.js';
import { listPipelines, registerPipeline } from './registry.js';

/**
 * The pipelines that ship with Archivist. Idempotent: the CLI, the server and every worker process call
 * it at start, and a test may call it again in the same process.
 */
export function registerBuiltinPipelines(): void {
  const registered = new Set(listPipelines().map((p) => `${p.name}@${p.version}`));
  for (const pipeline of [corePipeline, core2Pipeline]) {
    if (!registered.has(`${pipeline.name}@${pipeline.version}`)) registerPipeline(pipeline);
  }
}
