/** What a worker process tells its coordinator over the IPC channel. */
export type WorkerMessage =
  | { type: 'ready'; workerId: string }
  | { type: 'claimed'; itemId: number; step: string; assetId: string; at: number }
  | {
      type: 'finished';
      itemId: number;
      outcome: 'done' | 'reused' | 'skipped' | 'failed' | 'retrying' | 'released' | 'lost';
    }
  | { type: 'exiting'; why: 'finished' | 'stopped' | 'paused'; cpuMs: number; maxRssBytes: number };

/** What a coordinator tells its workers. */
export type CoordinatorMessage = { type: 'stop'; graceMs: number };
