import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The drills' view of processes: who is a child of whom, who is alive, and waiting (with a generous limit,
 * never a fixed time) for processes to die or for a condition to hold. Linux reads /proc; elsewhere `ps`.
 */

/** How long a drill may wait for a state before it is a failure (a noisy 2-core machine is slow, not stuck). */
export const WAIT_MS = 60_000;

interface Stat {
  state: string;
  ppid: number;
  /** Start time in clock ticks since boot: with the pid, names one process even after its pid is reused. */
  start: string;
}

function readStat(pid: number): Stat | null {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: the fields start after the last `)`.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // After `)`: state (3), ppid (4), ..., starttime (22), counted from 1 as proc(5) does.
    return { state: fields[0]!, ppid: Number(fields[1]), start: fields[19]! };
  } catch {
    return null;
  }
}

const hasProc = () => fs.existsSync('/proc/self/stat');

function procPids(): number[] {
  return fs
    .readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

/** Children of `pid` (from /proc; `ps --ppid` where there is no /proc). Zombies included. */
export function childPids(pid: number): number[] {
  if (hasProc()) {
    return procPids()
      .filter((child) => readStat(child)?.ppid === pid)
      .sort((a, b) => a - b);
  }
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((line) => Number(line.trim()))
      .filter((n) => n > 0);
  } catch {
    return []; // ps exits 1 when nothing matches
  }
}

/** Every process below `pid`: its workers, and the tools they run (exiftool's perl, ffmpeg, ffprobe). */
export function descendantPids(pid: number): number[] {
  const out: number[] = [];
  const visit = (parent: number) => {
    for (const child of childPids(parent)) {
      out.push(child);
      visit(child);
    }
  };
  visit(pid);
  return out;
}

/** The command line of a process, or null once it is gone (or unreadable). */
export function commandLine(pid: number): string[] | null {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return null;
  }
}

/** Processes whose command line names `dir` (on Linux; none elsewhere). */
export function processesUsing(dir: string): number[] {
  if (!hasProc()) return [];
  return procPids().filter((pid) => {
    if (pid === process.pid) return false;
    const argv = commandLine(pid);
    return argv?.some((arg) => arg === dir || arg.startsWith(`${dir}${path.sep}`)) ?? false;
  });
}

/** Processes whose environment holds `NAME=value` (on Linux; none elsewhere): orphans included. */
export function processesWithEnv(name: string, value: string): number[] {
  if (!hasProc()) return [];
  const wanted = `${name}=${value}`;
  return procPids().filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(wanted);
    } catch {
      return false; // gone, or not ours to read
    }
  });
}

/** Alive means running, sleeping or stopped; a zombie (`Z`, killed but not reaped by its parent) is dead. */
export function isAlive(pid: number): boolean {
  if (hasProc()) {
    const stat = readStat(pid);
    return stat !== null && stat.state !== 'Z' && stat.state !== 'X';
  }
  try {
    const state = execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).trim();
    return state !== '' && !state.startsWith('Z');
  } catch {
    return false;
  }
}

/** Still a child of `parent` that the parent has not reaped yet: alive, or a zombie waiting for it. */
export function isUnreapedChildOf(pid: number, parent: number): boolean {
  return readStat(pid)?.ppid === parent;
}

export function killIfAlive(pid: number): void {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone in between
  }
}

/**
 * Every process that worked for a home, as seen every 200 ms until `stop`: the processes naming the home
 * on their command line (the CLI, coordinators, workers) and all below them. A tool a worker started
 * (exiftool's perl runs with an environment of its own) is remembered even after its worker is gone, so
 * that one left running by a killed worker is still found. Linux only (an empty census elsewhere).
 */
export class ProcessCensus {
  private readonly seen = new Map<number, string>();
  private readonly timer: NodeJS.Timeout;
  constructor(private readonly home: string) {
    this.timer = setInterval(() => this.look(), 200);
    this.timer.unref();
  }

  private look(): void {
    if (!hasProc()) return;
    // One pass over /proc per look: the parent of every process, then the tree below the home's own.
    const table = new Map<number, Stat>();
    for (const pid of procPids()) {
      const stat = readStat(pid);
      if (stat) table.set(pid, stat);
    }
    const below = (parent: number): number[] =>
      [...table].filter(([, stat]) => stat.ppid === parent).flatMap(([pid]) => [pid, ...below(pid)]);
    for (const pid of processesUsing(this.home)) {
      for (const one of [pid, ...below(pid)]) {
        const start = table.get(one)?.start;
        if (start !== undefined && !this.seen.has(one)) this.seen.set(one, start);
      }
    }
  }

  /** The processes seen that are still alive (the same processes: pid and start time). */
  alive(): number[] {
    this.look();
    return [...this.seen]
      .filter(([pid, start]) => readStat(pid)?.start === start && isAlive(pid))
      .map(([pid]) => pid);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** Resolves once none of `pids` is alive (zombies count as dead); rejects after WAIT_MS. */
export async function waitUntilDead(pids: readonly number[]): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    const alive = pids.filter(isAlive);
    if (alive.length === 0) return;
    await sleep(50);
  }
  const alive = pids.filter(isAlive);
  throw new Error(
    `processes still alive after ${WAIT_MS / 1000} s: ${alive.map((pid) => `${pid} (${commandLine(pid)?.join(' ')})`).join(', ')}`,
  );
}

/** Polls a condition (e.g. a read of the database) every `everyMs` until it gives a value. */
export async function pollFor<T>(
  what: string,
  probe: () => T | undefined | null | Promise<T | undefined | null>,
  everyMs = 25,
): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined && value !== null) return value;
    await sleep(everyMs);
  }
  throw new Error(`gave up waiting for ${what} after ${WAIT_MS / 1000} s`);
}

/**
 * SQLite's write lock of a database in WAL mode: an exclusive POSIX lock on byte 120 of its `-shm` file
 * (WAL_WRITE_LOCK), held for as long as a write transaction lasts; /proc/locks names the process.
 */
export function holdsSqliteWriteLock(pid: number, databaseFile: string): boolean {
  const inode = fs.statSync(`${databaseFile}-shm`).ino;
  return fs
    .readFileSync('/proc/locks', 'utf8')
    .split('\n')
    .some((line) => {
      // "1: POSIX  ADVISORY  WRITE 4242 08:01:1234567 120 120"
      const fields = line.trim().split(/\s+/);
      return (
        fields[1] === 'POSIX' &&
        fields[3] === 'WRITE' &&
        fields[4] === String(pid) &&
        fields[5]?.split(':')[2] === String(inode) &&
        fields[6] === '120'
      );
    });
}

/** A real SIGSTOP, returning once the process shows as stopped (its locks as they were at that moment). */
function freeze(pid: number): void {
  process.kill(pid, 'SIGSTOP');
  // A stop is delivered at once, but the state to show it only once the kernel has parked the task.
  for (let i = 0; i < 1000 && readStat(pid)?.state !== 'T'; i++);
}

/**
 * Stops one of `pids` with a real SIGSTOP at a moment it holds SQLite's write lock: each in turn is
 * stopped, looked at, and let go again (SIGCONT) until one is caught inside a write transaction.
 */
export async function stopWhileHoldingWriteLock(pids: () => number[], databaseFile: string): Promise<number> {
  return pollFor(
    'a process caught holding the write lock',
    () => {
      for (const pid of pids()) {
        try {
          freeze(pid);
        } catch {
          continue; // gone
        }
        if (holdsSqliteWriteLock(pid, databaseFile)) return pid;
        process.kill(pid, 'SIGCONT');
      }
      return undefined;
    },
    1,
  );
}

/**
 * Stops `pid` with a real SIGSTOP at a moment it holds no SQLite write lock (`databaseFile`; null on
 * PostgreSQL, which has no such lock): one caught inside a write transaction is let go (SIGCONT) and
 * stopped again a moment later. A process frozen holding the lock is another case (the one above).
 */
export async function stopOutsideWriteLock(pid: number, databaseFile: string | null): Promise<void> {
  await pollFor(
    'the process stopped outside a write transaction',
    () => {
      freeze(pid);
      if (databaseFile === null || !holdsSqliteWriteLock(pid, databaseFile)) return true;
      process.kill(pid, 'SIGCONT');
      return undefined;
    },
    5,
  );
}
