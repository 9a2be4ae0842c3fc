import { setTimeout as sleep } from 'node:timers/promises';
import type { RunStatus } from './schema.js';

/**
 * Wake-up hints: "run R is now S" (a start, a cancel, a pause) and "run R has items to claim again" (a
 * release, an expired lease). They only shorten a wait: every waiter also polls, so a hint lost with a
 * dropped connection (NOTIFY is not queued for a listener that is not connected) costs one poll interval,
 * never an item. PostgreSQL carries them with LISTEN/NOTIFY; SQLite has none (one host, one file).
 */
export type WakeUpHint = { kind: 'run'; runId: string; status: RunStatus } | { kind: 'items'; runId: string };

export function formatHint(hint: WakeUpHint): string {
  return hint.kind === 'run' ? `run:${hint.runId}:${hint.status}` : `items:${hint.runId}`;
}

export function parseHint(text: string): WakeUpHint | undefined {
  const [kind, runId, status] = text.split(':');
  if (kind === 'run' && runId && status) return { kind, runId, status: status as RunStatus };
  if (kind === 'items' && runId) return { kind, runId };
  return undefined;
}

export interface WakeUps {
  /** Calls `listener` for every hint until the returned function is called. */
  subscribe(listener: (hint: WakeUpHint) => void): () => void;
  /**
   * Waits `pollMs` (the fallback), or less: until a hint that `wanted` accepts arrives, or `signal` fires.
   * True when a hint ended the wait.
   */
  wait(pollMs: number, signal: AbortSignal, wanted?: (hint: WakeUpHint) => boolean): Promise<boolean>;
  close(): Promise<void>;
}

/** The subscription bookkeeping both kinds share; `emit` is called by whatever receives hints. */
export class WakeUpHub implements WakeUps {
  private readonly listeners = new Set<(hint: WakeUpHint) => void>();

  constructor(private readonly onClose: () => Promise<void> = () => Promise.resolve()) {}

  emit(text: string): void {
    const hint = parseHint(text);
    if (hint) for (const listener of [...this.listeners]) listener(hint);
  }

  subscribe(listener: (hint: WakeUpHint) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async wait(pollMs: number, signal: AbortSignal, wanted: (hint: WakeUpHint) => boolean = () => true) {
    const woken = new AbortController();
    let byHint = false;
    const unsubscribe = this.subscribe((hint) => {
      if (!wanted(hint)) return;
      byHint = true;
      woken.abort();
    });
    const both = AbortSignal.any([signal, woken.signal]);
    try {
      await sleep(pollMs, undefined, { signal: both }).catch(() => undefined);
    } finally {
      unsubscribe();
    }
    return byHint;
  }

  close(): Promise<void> {
    this.listeners.clear();
    return this.onClose();
  }
}
