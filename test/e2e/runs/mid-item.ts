import os from 'node:os';
import path from 'node:path';
import type { Fixture } from './harness.js';
import { childPids, commandLine, isAlive, isUnreapedChildOf, pollFor } from './processes.js';
import type { ItemRow } from './types.js';

export type VideoTool = 'ffmpeg' | 'ffprobe';

/** One of `tools` working on a file (not the `-version` probe a worker makes when it starts). */
function isToolAtWork(pid: number, tools: readonly VideoTool[]): boolean {
  const argv = commandLine(pid) ?? [];
  return (tools as readonly string[]).includes(path.basename(argv[0] ?? '')) && !argv.includes('-version');
}

/** exiftool, which a worker keeps running (under perl) from its first metadata item on. */
export function runsExiftool(worker: number): boolean {
  return childPids(worker).some((pid) => commandLine(pid)?.some((arg) => arg.endsWith('/exiftool')) ?? false);
}

export interface Caught {
  worker: number;
  /** The items the worker held (status `running`, its lease) when it was caught. */
  held: ItemRow[];
}

/**
 * Catches a worker of `parent` provably in the middle of an item, and acts on it there. A worker whose
 * ffmpeg or ffprobe (one of `tools`) is running is stopped (SIGSTOP); if the tool is still its unreaped
 * child, the stopped
 * worker cannot have finished that step since, whatever the machine's load. If `accept` likes the items
 * it holds, `act` runs while it is stopped (a kill lands mid-item, never between two items); then the
 * worker is continued, unless `act` killed it.
 */
export function catchWorkerMidItem(
  f: Fixture,
  parent: number,
  accept: (held: ItemRow[], worker: number) => boolean,
  act: (worker: number) => void,
  tools: readonly VideoTool[] = ['ffmpeg', 'ffprobe'],
): Promise<Caught> {
  const host = os.hostname();
  return pollFor(
    'a worker in the middle of a video item',
    () => {
      for (const worker of childPids(parent).filter(isAlive)) {
        const tool = childPids(worker).find((pid) => isToolAtWork(pid, tools));
        if (tool === undefined) continue;
        process.kill(worker, 'SIGSTOP');
        try {
          const held = f.query<ItemRow>(
            "select * from work_items where status = 'running' and lease_owner = ?",
            `${host}:${worker}`,
          );
          if (isUnreapedChildOf(tool, worker) && accept(held, worker)) {
            act(worker);
            return { worker, held };
          }
        } finally {
          try {
            process.kill(worker, 'SIGCONT');
          } catch {
            // killed by `act`, and gone already
          }
        }
      }
      return undefined;
    },
    10,
  );
}
