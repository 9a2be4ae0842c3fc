import { ArchivistError } from '../errors.js';
import type { PipelineDefinition } from './step.js';

export type ResolvedParams = Record<string, Record<string, unknown>>;

/** `"64"` is the number 64 and `true` a boolean, when the schema wants them; anything else stays text. */
function parseValue(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * Turns `--set step.param=value` into every step's full params, defaults filled in, each checked by its
 * step's schema. Any problem stops the command before a record is written, naming the param and what
 * it accepts.
 */
export function resolveParams(
  pipeline: PipelineDefinition,
  sets: readonly string[],
  base: ResolvedParams = {},
): ResolvedParams {
  const raw: Record<string, Record<string, unknown>> = {};
  for (const step of pipeline.steps) raw[step.name] = { ...(base[step.name] ?? {}) };
  const steps = pipeline.steps.map((s) => s.name).join(', ');

  for (const set of sets) {
    const match = /^([^.=]+)\.([^=]+)=(.*)$/s.exec(set);
    if (!match)
      throw new ArchivistError('usage', `--set ${set}: expected step.param=value`, {
        field: 'set',
        hint: `Steps: ${steps}.`,
      });
    const [, stepName, param, value] = match as unknown as [string, string, string, string];
    const step = pipeline.steps.find((s) => s.name === stepName);
    if (!step) {
      throw new ArchivistError(
        'usage',
        `--set ${set}: ${pipeline.name}@${pipeline.version} has no step "${stepName}"`,
        {
          field: 'set',
          hint: `Steps: ${steps}.`,
        },
      );
    }
    const known = Object.keys(step.params.shape as Record<string, unknown>);
    if (!known.includes(param)) {
      throw new ArchivistError('usage', `--set ${set}: step "${stepName}" has no param "${param}"`, {
        param: `${stepName}.${param}`,
        hint: known.length > 0 ? `${stepName} takes: ${known.join(', ')}.` : `${stepName} takes no params.`,
      });
    }
    raw[stepName]![param] = parseValue(value);
  }

  const resolved: ResolvedParams = {};
  for (const step of pipeline.steps) {
    const result = step.params.strict().safeParse(raw[step.name]);
    if (!result.success) {
      const problems = result.error.issues.map((issue) => {
        const key = `${step.name}.${issue.path.join('.')}`;
        return `${key}=${JSON.stringify(raw[step.name]![String(issue.path[0])])}: ${issue.message}`;
      });
      const first = result.error.issues[0]!;
      throw new ArchivistError('usage', `invalid params: ${problems.join('; ')}`, {
        param: `${step.name}.${String(first.path[0])}`,
      });
    }
    resolved[step.name] = result.data;
  }
  return resolved;
}
