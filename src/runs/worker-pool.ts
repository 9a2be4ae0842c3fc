import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Home } from '../home/home.js';
import type { RunRow } from '../store/schema.js';
import type { RunLog } from './run-log.js';
import type { CoordinatorMessage, WorkerMessage } from './worker-messages.js';
import { isStoppedBySignal } from './process-state.js';
import { removeScratchDir, scratchDirOf } from './scratch-dirs.js';

const WORKER_ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'worker-process.js');

export interface PooledWorker {
  child: ChildProcess;
  id: string;
  current: { itemId: number; at: number } | null;
  stderr: string[];
  exited: boolean;
  killedForTimeout: boolean;
  /** Killed because its lease lapsed: it stopped heartbeating (SIGSTOP, a blocked event loop). */
  killedForLease: boolean;
  /** Killed because a signal had stopped it (SIGSTOP, SIGTSTP) for longer than a lease. */
  killedStopped: boolean;
  /** Since when it has been seen stopped by a signal, if it is now. */
  stoppedSince: number | null;
  /** Why it said it was exiting, if it said so before it went. */
  exitWhy: Extract<WorkerMessage, { type: 'exiting' }>['why'] | null;
}

/** What the pool measured of its workers, for the run's benchmark record. */
export interface PoolFigures {
  cpuMs: number;
  peakRss: number;
  /** Deaths since the last item a worker finished: many in a row means the set-up is broken. */
  crashesInARow: number;
}

/**
 * The worker processes of one run on this host: forks them, follows what they say (which item each has
 * in hand), and hands every exit to `onExit`. What an exit means for the run is the coordinator's call.
 */
export class WorkerPool {
  readonly workers = new Set<PooledWorker>();
  readonly figures: PoolFigures = { cpuMs: 0, peakRss: 0, crashesInARow: 0 };
  /** A worker said a write of the run was refused by a full disk (the reason has the figures). */
  onDiskFull: (reason: string) => void = () => undefined;

  constructor(
    private readonly home: Home,
    private readonly run: RunRow,
    private readonly size: number,
    private readonly log: RunLog,
    private readonly onExit: (
      worker: PooledWorker,
      code: number | null,
      signal: NodeJS.Signals | null,
    ) => Promise<void>,
  ) {}

  /** Starts a worker, unless the run already has as many as it asked for. */
  spawn(): void {
    // Two workers dying together are replaced twice by their exits, and once more by the coordinator's
    // tick if it sees none alive before those exits are handled: a third worker the user did not ask for.
    if (this.workers.size >= this.size) return;
    // Share the cores between workers instead of letting each libvips use all of them.
    const threads = String(Math.max(1, Math.floor(os.cpus().length / this.size)));
    const child = fork(WORKER_ENTRY, [this.home.layout.root, this.run.id, String(process.pid)], {
      // Each worker leads a process group of its own, with the tools it starts (exiftool, ffmpeg): a
      // Ctrl-C in the terminal reaches the coordinator only (which cancels, with a grace period) instead of
      // killing tools mid-file, and a worker that dies is cleaned up with everything it started.
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: {
        ...process.env,
        VIPS_CONCURRENCY: threads,
        UV_THREADPOOL_SIZE: String(Math.max(4, Number(threads))),
      },
    });
    const worker: PooledWorker = {
      child,
      id: `${os.hostname()}:${child.pid}`,
      current: null,
      stderr: [],
      exited: false,
      killedForTimeout: false,
      killedForLease: false,
      killedStopped: false,
      stoppedSince: null,
      exitWhy: null,
    };
    child.stderr?.on('data', (chunk: Buffer) => {
      worker.stderr.push(...chunk.toString().split('\n').filter(Boolean));
      if (worker.stderr.length > 40) worker.stderr.splice(0, worker.stderr.length - 40);
    });
    child.on('message', (message: WorkerMessage) => this.onMessage(worker, message));
    child.on('exit', (code, signal) => {
      worker.exited = true;
      // A worker killed (SIGKILL, a crash, our timeout) cannot end its tools; exiftool in -stay_open mode
      // would wait on its closed stdin forever. Its process group goes with it.
      killGroup(child.pid);
      // A worker that was killed could not remove its scratch folder; one that exited has already.
      if (child.pid !== undefined) removeScratchDir(scratchDirOf(this.home.layout, child.pid));
      this.workers.delete(worker);
      void this.onExit(worker, code, signal);
    });
    // A send to a worker whose channel just closed fails with an 'error' event; unhandled, it would take
    // the coordinator down. The worker's exit is what matters, and 'exit' reports it.
    child.on('error', (error: NodeJS.ErrnoException) => {
      // One that had said it was exiting closed its channel as a stop went to it: expected, not a warning.
      const closing =
        worker.exitWhy !== null && (error.code === 'EPIPE' || error.code === 'ERR_IPC_CHANNEL_CLOSED');
      this.log[closing ? 'debug' : 'warn']({
        event: 'worker-channel-error',
        worker: worker.id,
        error: error.message,
      });
    });
    this.workers.add(worker);
  }

  private onMessage(worker: PooledWorker, message: WorkerMessage): void {
    switch (message.type) {
      case 'claimed':
        if (message.finished) this.figures.crashesInARow = 0;
        worker.current = { itemId: message.itemId, at: Date.now() };
        break;
      case 'finished':
        worker.current = null;
        this.figures.crashesInARow = 0;
        break;
      case 'disk-full':
        this.onDiskFull(message.reason);
        break;
      case 'exiting':
        worker.exitWhy = message.why;
        this.figures.cpuMs += message.cpuMs;
        this.figures.peakRss = Math.max(this.figures.peakRss, message.maxRssBytes);
        break;
      case 'ready':
        break;
    }
  }

  /** Asks every worker to stop claiming; in-flight steps get `graceMs` before they are aborted. */
  stopAll(graceMs: number): void {
    for (const worker of this.workers) {
      // A worker that already closed its channel (it saw the pause itself) is on its way out.
      if (worker.child.connected) worker.child.send({ type: 'stop', graceMs } satisfies CoordinatorMessage);
    }
  }

  killAll(): void {
    for (const worker of this.workers) killGroup(worker.child.pid);
  }

  /** A step that overruns its timeout by more than the worker's own abort is killed with its process. */
  killOverdue(timeoutMs: number): void {
    for (const worker of this.workers) {
      if (worker.current && !worker.killedForTimeout && Date.now() - worker.current.at > timeoutMs) {
        worker.killedForTimeout = true;
        killGroup(worker.child.pid);
      }
    }
  }

  /**
   * Kills the workers named (by id) whose lease lapsed: a frozen process never exits by itself, and a
   * SIGKILL reaches it stopped or not. Its exit is then handled like any crash.
   */
  killLapsed(owners: ReadonlySet<string>): void {
    for (const worker of this.workers) {
      if (!owners.has(worker.id) || worker.killedForLease || worker.exited) continue;
      worker.killedForLease = true;
      this.log.warn({ event: 'lease-lapsed', worker: worker.id }, `worker ${worker.id} stopped heartbeating`);
      killGroup(worker.child.pid);
    }
  }

  /**
   * Kills the workers a signal has stopped (SIGSTOP, SIGTSTP) for longer than `afterMs`, holding a lease
   * or not: on SQLite, one stopped inside a write transaction (an idle worker's claim) holds the whole
   * database's lock, every other writer of the run waits on it, and no lease of its ever lapses. Told
   * from /proc on Linux; elsewhere the leases alone find the stopped workers that hold items. Answers
   * how many it killed.
   */
  killStopped(afterMs: number, now = Date.now()): number {
    let killed = 0;
    for (const worker of this.workers) {
      if (worker.exited || worker.killedStopped || worker.killedForLease) continue;
      if (worker.child.pid === undefined || !isStoppedBySignal(worker.child.pid)) {
        worker.stoppedSince = null;
        continue;
      }
      worker.stoppedSince ??= now;
      if (now - worker.stoppedSince < afterMs) continue;
      worker.killedStopped = true;
      this.log.warn(
        { event: 'worker-stopped', worker: worker.id },
        `worker ${worker.id} stopped by a signal`,
      );
      killGroup(worker.child.pid);
      killed++;
    }
    return killed;
  }

  get anyAlive(): boolean {
    return [...this.workers].some((worker) => !worker.exited);
  }
}

/** SIGKILL to a worker's whole process group (it leads one: `detached`); nothing if it is gone already. */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // no such group: everything in it has exited
  }
}
