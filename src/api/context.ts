import type { Home } from '../home/home.js';
import type { ListingTotals } from './listing-totals.js';
import type { OffThreadCounts } from './off-thread-counts.js';

/** What every route group gets: the open home, how runs are launched, and the open progress streams. */
export interface ApiContext {
  home: Home;
  /** Starts a background coordinator for a planned run (launchCoordinator); it outlives the server. */
  launch(runId: string, workers: number): Promise<{ pid: number | undefined }> | { pid: number | undefined };
  /** Listing totals, counted at most every few seconds per filter set. */
  totals: ListingTotals;
  /** Where stale totals are recounted without holding up requests: a SQLite home's count thread. */
  counts?: OffThreadCounts;
  /** How often the progress stream polls the database. */
  progressIntervalMs: number;
  /** Progress streams still open, ended when the server closes. */
  streams: Set<() => void>;
}
