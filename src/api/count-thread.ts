import { parentPort, workerData } from 'node:worker_threads';
import { countListed } from '../store/listing-repository.js';
import type { ListingFilters } from '../store/listing-filters.js';
import { openSqlite } from '../store/sqlite/sqlite-database.js';

/**
 * The thread that recounts listing totals of a SQLite home (off-thread-counts.ts), on a read-only
 * connection of its own: SQLite answers in the thread that asks, so a count of a million entries here
 * holds up no request of the server's own thread.
 */
export interface CountRequest {
  id: number;
  filters: ListingFilters;
}
export type CountReply = { id: number; total: number } | { id: number; error: string };

const { file } = workerData as { file: string };
const { db } = openSqlite(file, { readonly: true });

parentPort!.on('message', (request: CountRequest) => {
  countListed(db, request.filters).then(
    (total) => parentPort!.postMessage({ id: request.id, total } satisfies CountReply),
    (error: unknown) =>
      parentPort!.postMessage({ id: request.id, error: (error as Error).message } satisfies CountReply),
  );
});
