import path from 'node:path';
import { pino, type Logger } from 'pino';
import type { HomeLayout } from '../home/home-path.js';

export type RunLog = Logger;

/**
 * One JSON-lines log per run in the home's logs/, written by the coordinator and every worker (appends
 * of whole lines, synchronously, so processes do not interleave within a line and a crash loses
 * nothing already logged). A failed item's entry holds what is needed to rerun it by hand.
 */
export function openRunLog(
  layout: HomeLayout,
  runId: string,
  role: string,
  onError?: (error: Error) => void,
): RunLog {
  const destination = pino.destination({
    dest: runLogPath(layout, runId),
    append: true,
    sync: true,
    mkdir: true,
  });
  // A line that cannot be written (ENOSPC on a full disk) is an 'error' event: unheard, it would take the
  // process down. The caller decides what it means (a full disk pauses the run); the line is lost.
  destination.on('error', (error: Error) => onError?.(error));
  return pino(
    { base: { run: runId, role, pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    destination,
  );
}

export function runLogPath(layout: HomeLayout, runId: string): string {
  return path.join(layout.logs, `run-${runId}.jsonl`);
}
