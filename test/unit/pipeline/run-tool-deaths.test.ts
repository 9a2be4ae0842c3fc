import { describe, expect, it } from 'vitest';
import { failureOf } from '../../../src/pipeline/steps/failures.js';
import { runTool } from '../../../src/pipeline/tools/run-tool.js';
import { ToolError } from '../../../src/pipeline/tools/tool.js';
import { isRetryableFailure } from '../../../src/runs/record-outcome.js';

/**
 * A tool that dies of a signal (the OOM killer, a SIGKILL from outside, a crash) has not judged the file:
 * its item is tried again, even when it printed something first. A tool that exits with an error has
 * judged it: not retried. Real child processes, real signals.
 */

const run = (script: string) =>
  runTool('sh', '/bin/sh', ['-c', script], { signal: new AbortController().signal }).then(
    () => {
      throw new Error('the tool should have failed');
    },
    (error: unknown) => error as ToolError,
  );

describe('a tool that fails', () => {
  it('killed by a signal after a warning: retryable, named by its signal, the warning kept', async () => {
    const error = await run('echo "warning: odd marker" >&2; kill -KILL $$');
    expect(error).toBeInstanceOf(ToolError);
    expect(error).toMatchObject({ kind: 'failed', retryable: true, message: 'sh: killed by SIGKILL' });
    expect(error.stderrTail).toContain('warning: odd marker');
    const outcome = failureOf(error, 'decode-error');
    expect(outcome).toMatchObject({ reason: 'decode-error', retryable: true });
    expect(isRetryableFailure(outcome)).toBe(true);
  });

  it('exiting with an error: its last word is the verdict, not retried', async () => {
    const error = await run('echo "Invalid data found when processing input" >&2; exit 1');
    expect(error).toMatchObject({ kind: 'failed', retryable: false });
    expect(error.message).toBe('sh: Invalid data found when processing input');
    expect(isRetryableFailure(failureOf(error, 'decode-error'))).toBe(false);
  });
});
