import fs from 'node:fs';
import path from 'node:path';
import type { HomeLayout } from '../home/home-path.js';

/**
 * Room kept aside by a coordinator for the one write a full disk must not refuse: recording that the
 * run paused (`disk-full`, with the figures) and giving its items back. `<home>/tmp/reserve-<pid>`, made
 * when the coordinator takes the run and deleted the moment any write of the run hits ENOSPC, once its
 * workers have stopped writing; the database then has room for those few pages. Removed when the
 * coordinator ends; one left by a killed coordinator is removed by the next one and by `gc`.
 */
// A pause writes a few pages (the run's row, the items given back) to a WAL that exists already: tens of
// KB. Small, too, because it is taken from the room a `--min-free` threshold counts as free.
export const RESERVE_BYTES = 256 * 1024;

export class DiskReserve {
  readonly file: string;
  private held = false;

  constructor(layout: HomeLayout) {
    this.file = path.join(layout.tmp, `reserve-${process.pid}`);
  }

  /** Writes the reserve (real blocks: zeros written, not a sparse file). Throws ENOSPC on a full disk. */
  take(): void {
    const fd = fs.openSync(this.file, 'w');
    this.held = true;
    try {
      const chunk = Buffer.alloc(64 * 1024);
      for (let written = 0; written < RESERVE_BYTES; written += chunk.length) fs.writeSync(fd, chunk);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Gives the space back to the disk (for the pause record, or because the coordinator ends). */
  release(): boolean {
    if (!this.held) return false;
    this.held = false;
    fs.rmSync(this.file, { force: true });
    return true;
  }
}
