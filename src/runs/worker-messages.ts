/** What a worker process tells its coordinator over the IPC channel. */
export type WorkerMessage =
  | { type: 'ready'; workerId: string }
  | {
      type: 'claimed';
      itemId: number;
      step: string;
      assetId: string;
      at: number;
      /** The item finished just before this one was taken, said in the same message (one write, not two). */
      finished?: Finished;
    }
  | ({ type: 'finished' } & Finished)
  /** A write was refused by a full disk: the run must pause (`reason` has the figures), nothing is charged. */
  | { type: 'disk-full'; reason: string }
  | {
      type: 'exiting';
      why: 'finished' | 'stopped' | 'paused' | 'disk-full';
      cpuMs: number;
      maxRssBytes: number;
    };

/** What a coordinator tells its workers. */
export type CoordinatorMessage = { type: 'stop'; graceMs: number };

export interface Finished {
  itemId: number;
  outcome: 'done' | 'reused' | 'skipped' | 'failed' | 'retrying' | 'released' | 'lost';
}
