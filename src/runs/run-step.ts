import { pathText } from '../catalog/file-names.js';
import { pathForTools, SourceReadError, type ToolPath } from '../catalog/source-reader.js';
import type { StepOutcome } from '../pipeline/step.js';
import type { FileLookup, ItemLookups } from './item-lookups.js';
import { oneLine, type ItemJob, type StepResult } from './item-job.js';

/** What running one item's step needs beyond the item itself: made once per worker. */
export interface StepRunner {
  lookups: ItemLookups;
  /** This worker's scratch folder (scratch-dirs.ts): where tools write their intermediate files. */
  scratchDir: string;
  /** The run's per-item timeout, for the message of an item that ran out of time. */
  itemTimeoutMs: number;
}

/**
 * Looks up where the asset's file is, runs the step on it, and says what happened as a value: a moved
 * file is looked up once more, a timeout is named as one, a missing file names where it was looked for.
 * Records nothing (record-outcome.ts does).
 */
export async function runItemStep(runner: StepRunner, job: ItemJob): Promise<StepResult> {
  const { lookup, result } = await lookAgainIfMoved(
    runner,
    job,
    await runner.lookups.presentFile(job.asset.id),
  );
  const outcome = timedOut(job, runner.itemTimeoutMs, result.outcome);
  if (outcome.status === 'failed' && outcome.reason === 'source-missing' && lookup.gone.length > 0) {
    // Name where the file was looked for: the location shown beside a failure is the catalog's current
    // one, which after a re-catalog is the new path, and the log needs the path that was really tried.
    const where = lookup.gone.join(', ');
    return {
      file: result.file ?? lookup.gone[0]!,
      outcome: {
        ...outcome,
        message: `not found at ${where}: moved or deleted since the catalog (run \`archivist catalog\`, then \`archivist run retry <run> --failed-only\`)`,
      },
    };
  }
  return { file: result.file, outcome };
}

/**
 * The file may have moved since the batch was claimed: a catalog run since then knows where to, so one
 * look at the catalog again before the item fails for a file that is only elsewhere now.
 */
async function lookAgainIfMoved(
  runner: StepRunner,
  job: ItemJob,
  first: FileLookup,
): Promise<{ lookup: FileLookup; result: StepResult }> {
  const result = await runStepOn(runner, job, first);
  if (result.outcome.status !== 'failed' || result.outcome.reason !== 'source-missing')
    return { lookup: first, result };
  const again = await runner.lookups.presentFile(job.asset.id, true);
  if (!again.found || again.found.file === first.found?.file) return { lookup: first, result };
  return { lookup: again, result: await runStepOn(runner, job, again) };
}

async function runStepOn(runner: StepRunner, job: ItemJob, lookup: FileLookup): Promise<StepResult> {
  const { found } = lookup;
  // For logs and messages: the exact bytes of a name that is not UTF-8, as text (file-names.ts).
  const file = found === null ? null : pathText(found.file);
  if (!found) {
    return {
      file,
      outcome: {
        status: 'failed',
        reason: 'source-missing',
        message: 'no present location: the file is missing from every source',
        retryable: false,
      },
    };
  }
  let outcome: StepOutcome;
  let original: ToolPath | undefined;
  try {
    const { asset } = job;
    original = await pathForTools(found.file);
    outcome = await job.plan.step.run({
      asset: {
        id: asset.id,
        mediaType: asset.media_type,
        mime: asset.mime,
        size: asset.size,
        file: original.path,
        // The catalog's facts go with the path: the step checks the file against them (source-changed).
        mtimeNs: found.mtimeNs,
        inode: found.inode,
      },
      params: job.plan.params,
      inputs: job.inputs,
      sidecars: job.sidecars,
      signal: job.abort.signal,
      scratchDir: runner.scratchDir,
    });
  } catch (error) {
    outcome = failureOfThrown(error);
  } finally {
    await original?.close();
  }
  return { file, outcome };
}

/** A step that threw instead of returning an outcome: an unreadable original, or the step's own bug. */
function failureOfThrown(error: unknown): StepOutcome {
  if (error instanceof SourceReadError)
    return {
      status: 'failed',
      reason: error.reason === 'not-found' ? 'source-missing' : 'io-error',
      message: oneLine(error),
      retryable: error.retryable,
    };
  return { status: 'failed', reason: 'step-error', message: oneLine(error), retryable: false };
}

/** A step that ran out of time says so, whatever the tool reported when it was stopped. */
function timedOut(job: ItemJob, itemTimeoutMs: number, outcome: StepOutcome): StepOutcome {
  const reason: unknown = job.abort.signal.reason;
  if (!job.abort.signal.aborted || !(reason instanceof Error) || reason.message !== 'timeout') return outcome;
  return {
    status: 'failed',
    reason: 'timeout',
    message: `took longer than ${itemTimeoutMs / 1000} s`,
    retryable: true,
  };
}
