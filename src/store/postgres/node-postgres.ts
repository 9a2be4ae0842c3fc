import { createRequire } from 'node:module';
import type PgModule from 'pg';

const require = createRequire(import.meta.url);

/**
 * node-postgres, loaded without Node 20's fetch classes. When `pg` loads it asks whether it runs in a
 * Cloudflare Worker by calling `new Response(...)`, and on Node 20 (no `navigator` yet) touching the
 * global `Response` loads all of undici: about 120 ms of CPU in every PostgreSQL process (each worker
 * of a run, its coordinator, every command), for a class Archivist never uses. For the moment of that
 * one synchronous require the global reads as absent, so pg takes its Node.js sockets, as it would
 * anyway; the lazy global is put back untouched (still unloaded) right after.
 */
function loadPg(): typeof PgModule {
  const saved = Object.getOwnPropertyDescriptor(globalThis, 'Response');
  if (!saved?.configurable) return require('pg') as typeof PgModule;
  Object.defineProperty(globalThis, 'Response', { value: undefined, configurable: true, writable: true });
  try {
    return require('pg') as typeof PgModule;
  } finally {
    Object.defineProperty(globalThis, 'Response', saved);
  }
}

const pg = loadPg();
export default pg;
