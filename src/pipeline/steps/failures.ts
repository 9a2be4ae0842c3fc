import { SourceReadError } from '../../catalog/source-reader.js';
import type { FailureReason, StepOutcome } from '../step.js';
import { firstLineOf, messageOf, ToolError } from '../tools/tool.js';

export type Failed = Extract<StepOutcome, { status: 'failed' }>;

export function failed(reason: FailureReason, message: string, stderrTail?: string): Failed {
  return {
    status: 'failed',
    reason,
    message: firstLineOf(message, 500),
    ...(stderrTail ? { stderrTail } : {}),
  };
}

/**
 * What a port's error means for the item. `whenRefused` is the reason for a tool that ran and refused
 * the input (decode-error for a picture, no-metadata for a tag reader); the other kinds do not depend on
 * the step. An abort is reported as a timeout; the worker replaces it with the right outcome (timeout,
 * or the item handed back on cancel).
 */
export function failureOf(error: unknown, whenRefused: FailureReason): Failed {
  if (error instanceof ToolError) {
    switch (error.kind) {
      case 'missing':
        return { ...failed('tool-missing', error.message, error.stderrTail), retryable: false };
      case 'aborted':
        return failed('timeout', error.message, error.stderrTail);
      case 'failed':
        // A tool that died before it answered (killed, out of memory) has not refused the input yet: the
        // item is tried again, and keeps this reason only if the tool dies every time.
        return error.retryable
          ? { ...failed(whenRefused, error.message, error.stderrTail), retryable: true }
          : failed(whenRefused, error.message, error.stderrTail);
    }
  }
  if (error instanceof SourceReadError) {
    switch (error.reason) {
      case 'not-found':
        return failed('source-missing', error.message);
      // Not worth another attempt: the file stays changed until the source is cataloged again.
      case 'source-changed':
      case 'not-a-regular-file':
        return { ...failed(error.reason, error.message), retryable: false };
      case 'permission-denied':
      case 'changed-during-read':
      case 'io-error':
        return { ...failed('io-error', error.message), retryable: error.retryable };
    }
  }
  return failed('step-error', messageOf(error));
}
