import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { ArchivistError } from '../errors.js';
import type { PipelineDefinition } from './step.js';

const pipelines = new Map<string, PipelineDefinition>();

export function registerPipeline(pipeline: PipelineDefinition): void {
  const key = `${pipeline.name}@${pipeline.version}`;
  if (pipelines.has(key)) throw new Error(`pipeline ${key} is registered twice`);
  const names = new Set<string>();
  for (const step of pipeline.steps) {
    if (names.has(step.name)) throw new Error(`pipeline ${key} has two steps named ${step.name}`);
    for (const need of step.needs ?? []) {
      // Inputs must come from earlier steps: the order of steps is the order of dependencies.
      if (!names.has(need))
        throw new Error(`step ${step.name} of ${key} needs ${need}, which does not come before it`);
    }
    names.add(step.name);
  }
  pipelines.set(key, pipeline);
}

export function listPipelines(): PipelineDefinition[] {
  return [...pipelines.values()].sort((a, b) => a.name.localeCompare(b.name) || a.version - b.version);
}

/** `core` means the newest version of core (that may be picked by name); `core@1` means exactly that one. */
export function findPipeline(ref: string): PipelineDefinition {
  const [name, versionText] = ref.split('@');
  const candidates = listPipelines().filter((p) => p.name === name);
  const found =
    versionText === undefined
      ? candidates.filter((p) => p.pickedByName !== false).at(-1)
      : candidates.find((p) => String(p.version) === versionText);
  if (!found) {
    const known = listPipelines().map((p) => `${p.name}@${p.version}`);
    throw new ArchivistError('usage', `unknown pipeline "${ref}"`, {
      field: 'pipeline',
      hint: `Known pipelines: ${known.join(', ') || '(none)'}.`,
    });
  }
  return found;
}

/**
 * Extra pipelines (test steps, plugins) are modules named in $ARCHIVIST_PIPELINE_MODULES, separated by
 * the platform's path delimiter; each calls `registerPipeline` when imported. Worker processes inherit the
 * variable, so they know the same pipelines as their coordinator.
 */
export async function loadExtraPipelines(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const modules = (env.ARCHIVIST_PIPELINE_MODULES ?? '').split(path.delimiter).filter(Boolean);
  for (const file of modules) await import(pathToFileURL(path.resolve(file)).href);
}
