import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ListingFilters } from '../store/listing-filters.js';
import type { CountReply, CountRequest } from './count-thread.js';

/** The thread's entry, built beside this file; absent when the server runs from its TypeScript sources. */
const ENTRY = fileURLToPath(new URL('./count-thread.js', import.meta.url));

/**
 * Listing totals of a SQLite home recounted in a thread of their own (count-thread.ts). better-sqlite3
 * runs a query in the thread that asks for it: a total recounted behind a stale answer (listing-totals.ts)
 * took the server's only thread for as long as it counted, 100-700 ms at a million assets, and every
 * request arriving meanwhile waited (the p95 of the million-asset bench was those waits). A total asked
 * for the first time is still counted inline: a thread's start would only delay that first answer.
 * PostgreSQL counts on the server, so its homes need none of this.
 */
export class OffThreadCounts {
  private worker: Worker | null = null;
  /** The thread failed (say, a second connection could not open): counts go inline from then on. */
  private broken = false;
  private lastId = 0;
  private readonly waiting = new Map<number, { resolve(total: number): void; reject(error: Error): void }>();

  constructor(private readonly databaseFile: string) {}

  /** `filters`' total from the thread, or from `inline` when there is no thread to ask. */
  count(filters: ListingFilters, inline: () => Promise<number>): Promise<number> {
    const worker = this.thread();
    if (!worker) return inline();
    const id = ++this.lastId;
    return new Promise<number>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ id, filters } satisfies CountRequest);
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    this.broken = true;
    await worker?.terminate();
  }

  private thread(): Worker | null {
    if (this.worker || this.broken) return this.worker;
    if (!fs.existsSync(ENTRY)) {
      this.broken = true;
      return null;
    }
    const worker = new Worker(ENTRY, { workerData: { file: this.databaseFile } });
    // Waiting for a count must not keep a server that is shutting down alive.
    worker.unref();
    worker.on('message', (reply: CountReply) => {
      const waiter = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if ('total' in reply) waiter?.resolve(reply.total);
      else waiter?.reject(new Error(reply.error));
    });
    const fail = (error: Error) => {
      this.broken = true;
      this.worker = null;
      for (const waiter of this.waiting.values()) waiter.reject(error);
      this.waiting.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the count thread exited (${code})`)));
    this.worker = worker;
    return worker;
  }
}
