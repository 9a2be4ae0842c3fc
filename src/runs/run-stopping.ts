/** In-flight steps get this long to finish after a cancel before they are aborted. */
export const CANCEL_GRACE_MS = 2_000;
/** After the grace, a worker that still has not exited is killed. */
export const KILL_AFTER_MS = CANCEL_GRACE_MS + 5_000;

/**
 * Whether (and since when) a coordinator's session is stopping: a cancel, a pause, or a write of the run
 * refused by a full disk. Set once and never unset within a session: a stopping run only ends.
 */
export class RunStopping {
  private since: number | null = null;
  /** Set when any write of the run was refused by a full disk: the reason with the figures. */
  private diskFullReason: string | null = null;

  constructor(private readonly now: () => number = Date.now) {}

  get stopping(): boolean {
    return this.since !== null;
  }

  get diskFull(): string | null {
    return this.diskFullReason;
  }

  /** The first full disk of the session: true if this call recorded it. */
  noteDiskFull(reason: string): boolean {
    if (this.diskFullReason !== null) return false;
    this.diskFullReason = reason;
    return true;
  }

  /** Starts stopping if the run asks for it (or the disk is full): true only on the tick it starts. */
  beginIfAsked(asked: boolean): boolean {
    if (this.since !== null || !(asked || this.diskFullReason !== null)) return false;
    this.since = this.now();
    return true;
  }

  /** The grace and the few seconds after it are over: whatever is still alive is killed. */
  get pastKillDeadline(): boolean {
    return this.since !== null && this.now() - this.since > KILL_AFTER_MS;
  }
}
