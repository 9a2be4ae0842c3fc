import { createContext, useCallback, useContext, useEffect, useState } from 'react';
import { getJson, type ProgressSnapshot, type Status } from './api.js';

export interface Loaded<T> {
  data: T | undefined;
  error: Error | undefined;
  reload: () => void;
}

/**
 * GETs a JSON URL (again every `intervalMs`, when given). Keeps the last good data while reloading, so a
 * live page does not flicker; `url` null means "not yet".
 */
export function useJson<T>(url: string | null, intervalMs?: number): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<Error>();
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  const [shownUrl, setShownUrl] = useState(url);
  if (shownUrl !== url) {
    // Another URL: forget the old answer at once rather than show it under the new address.
    setShownUrl(url);
    setData(undefined);
    setError(undefined);
  }
  useEffect(() => {
    if (url === null) return;
    const controller = new AbortController();
    const load = () =>
      getJson<T>(url, controller.signal).then(
        (value) => {
          setData(value);
          setError(undefined);
        },
        (e: unknown) => {
          if (!controller.signal.aborted) setError(e as Error);
        },
      );
    void load();
    const timer = intervalMs ? window.setInterval(() => void load(), intervalMs) : undefined;
    return () => {
      controller.abort();
      if (timer !== undefined) window.clearInterval(timer);
    };
  }, [url, intervalMs, tick]);
  return { data, error, reload };
}

/** The archive's size and the active runs, polled: a change means new assets or artifacts to show. */
export const StatusContext = createContext<Status | undefined>(undefined);

export function useStatusPoll(): Status | undefined {
  const [status, setStatus] = useState<Status>();
  const active = (status?.activeRuns.length ?? 0) > 0;
  useEffect(() => {
    let stopped = false;
    const load = () =>
      getJson<Status>('/api/status').then(
        (s) => {
          if (stopped) return;
          setStatus((old) => (old && JSON.stringify(old) === JSON.stringify(s) ? old : s));
        },
        () => undefined,
      );
    void load();
    const timer = window.setInterval(() => void load(), active ? 1000 : 3000);
    return () => {
      stopped = true;
      window.clearInterval(timer);
    };
  }, [active]);
  return status;
}

export function useStatus(): Status | undefined {
  return useContext(StatusContext);
}

/** A run's progress from its server-sent event stream; `ended` once the run has stopped. */
export function useRunEvents(
  runId: string,
  generation = 0,
): { snapshot: ProgressSnapshot | undefined; ended: boolean } {
  const [snapshot, setSnapshot] = useState<ProgressSnapshot>();
  const [ended, setEnded] = useState(false);
  useEffect(() => {
    setSnapshot(undefined);
    setEnded(false);
    const source = new EventSource(`/api/runs/${encodeURIComponent(runId)}/events`);
    source.addEventListener('progress', (event) =>
      setSnapshot(JSON.parse(event.data as string) as ProgressSnapshot),
    );
    source.addEventListener('end', () => {
      setEnded(true);
      source.close();
    });
    return () => source.close();
  }, [runId, generation]);
  return { snapshot, ended };
}

/** A value that settles: `value` once it has not changed for `ms` (for typing into filters). */
export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = window.setTimeout(() => setSettled(value), ms);
    return () => window.clearTimeout(timer);
  }, [value, ms]);
  return settled;
}
