import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from 'pg';
import pg from './node-postgres.js';
import { WakeUpHub } from '../wake-ups.js';
import { WAKE_UP_CHANNEL } from './postgres-dialect.js';

/**
 * LISTEN on a connection of its own (a pooled one goes back to the pool between queries, and its
 * LISTEN with it). When the connection drops (the server restarted, the link went), it reconnects with a
 * backoff from 0.25 s doubling to 5 s; meanwhile the waiters poll, which is all a lost hint costs.
 */
export function listenForWakeUps(url: string): WakeUpHub {
  const closing = new AbortController();
  let client: Client | undefined;
  const hub = new WakeUpHub(async () => {
    closing.abort();
    // Also a client still connecting or sending LISTEN: `end` destroys its socket, and the awaits below
    // fail. Left alone, it would finish connecting after the close and hold the process open for ever.
    await client?.end().catch(() => undefined);
  });
  const connect = async () => {
    for (let attempt = 0; !closing.signal.aborted; attempt++) {
      const next = new pg.Client({
        connectionString: url,
        keepAlive: true,
        application_name: 'archivist-listen',
      });
      client = next;
      const lost = new Promise<void>((resolve) => {
        next.on('error', () => resolve());
        next.on('end', () => resolve());
      });
      try {
        await next.connect();
        next.on('notification', (message) => {
          if (message.channel === WAKE_UP_CHANNEL && message.payload) hub.emit(message.payload);
        });
        await next.query(`listen ${WAKE_UP_CHANNEL}`);
        // Closed while connecting (a worker that exits at once, e.g. refused its run): no wait for hints.
        if (closing.signal.aborted) return;
        attempt = 0;
        await lost;
      } catch {
        // Not reachable now: the backoff below, then again.
      } finally {
        client = undefined;
        await next.end().catch(() => undefined);
      }
      await sleep(Math.min(5_000, 250 * 2 ** attempt), undefined, { signal: closing.signal }).catch(
        () => undefined,
      );
    }
  };
  void connect();
  return hub;
}
