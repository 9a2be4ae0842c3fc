import fs from 'node:fs';
import path from 'node:path';
import type { HomeLayout } from '../home/home-path.js';
import { processAlive } from './detect-interrupted.js';

/**
 * Each worker process works in `<home>/tmp/work-<pid>` (tools write their intermediate files there). A
 * worker removes its folder when it exits, even by `process.exit`; a worker that is killed (SIGKILL, the
 * OOM killer, a crash in a decoder) cannot, so the folders of dead workers are removed by their
 * coordinator when it sees them die, by every coordinator when it starts, and by `gc`. A folder whose
 * process is alive is never touched, however old it is: a long run keeps its worker for days.
 */
const WORK_DIR = /^work-(\d+)$/;

export function scratchDirOf(layout: HomeLayout, pid: number = process.pid): string {
  return path.join(layout.tmp, `work-${pid}`);
}

const removeAtExit = new Set<string>();

/** Makes this process's scratch folder; it is removed when the process exits, however it exits. */
export async function makeScratchDir(layout: HomeLayout): Promise<string> {
  const dir = scratchDirOf(layout);
  await fs.promises.mkdir(dir, { recursive: true });
  if (removeAtExit.size === 0) {
    // 'exit' handlers must be synchronous: the last thing a worker does, after `process.exit(70)` too.
    process.once('exit', () => {
      for (const pending of removeAtExit) removeScratchDir(pending);
    });
  }
  removeAtExit.add(dir);
  return dir;
}

/** Removes a scratch folder and what is in it; a failure is left for the next clean-up. */
export function removeScratchDir(dir: string): boolean {
  try {
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 2 });
    removeAtExit.delete(dir);
    return true;
  } catch {
    return false;
  }
}

/** The scratch folders under `<home>/tmp` whose worker process is gone. */
export function staleScratchDirs(layout: HomeLayout): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(layout.tmp);
  } catch {
    return [];
  }
  return names
    .filter((name) => {
      const pid = WORK_DIR.exec(name)?.[1];
      return pid !== undefined && Number(pid) !== process.pid && !processAlive(Number(pid));
    })
    .map((name) => path.join(layout.tmp, name));
}

/** Whether a `<home>/tmp` entry is a worker's scratch folder (its process decides, not its age). */
export function isScratchDirName(name: string): boolean {
  return WORK_DIR.test(name);
}

/** Removes the scratch folders of dead workers; returns how many went. */
export function removeStaleScratchDirs(layout: HomeLayout): number {
  return staleScratchDirs(layout).filter(removeScratchDir).length;
}

/**
 * The process that owns a `<home>/tmp` entry, by its name: a worker's scratch folder `work-<pid>`, a
 * temp artifact `artifact-<pid>-<random>` (written, fsynced, then renamed into the store), a
 * coordinator's disk reserve `reserve-<pid>`, a store journal `stored-<pid>.list`. Undefined for others.
 */
export function ownerOfTmpEntry(name: string): number | undefined {
  const pid = /^(?:work-(\d+)|artifact-(\d+)-[0-9a-f]+|reserve-(\d+)|stored-(\d+)\.list)$/.exec(name);
  const found = pid?.slice(1).find((group) => group !== undefined);
  return found === undefined ? undefined : Number(found);
}

/** Whether the process owning this tmp entry is gone (it can then be removed at once, whatever its age). */
export function ownerIsGone(name: string): boolean {
  const pid = ownerOfTmpEntry(name);
  return pid !== undefined && pid !== process.pid && !processAlive(pid);
}

/**
 * Removes the partial temp artifacts and disk reserves of processes that are gone (a worker killed
 * mid-write, a coordinator killed on a full disk); returns how many went. Journals are swept, not removed.
 */
export function removeStaleTempFiles(layout: HomeLayout): number {
  let names: string[];
  try {
    names = fs.readdirSync(layout.tmp);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    if (!/^(artifact|reserve)-/.test(name) || !ownerIsGone(name)) continue;
    fs.rmSync(path.join(layout.tmp, name), { force: true });
    removed++;
  }
  return removed;
}
