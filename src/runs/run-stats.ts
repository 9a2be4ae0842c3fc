import os from 'node:os';
import type { Db } from '../store/database.js';
import { runCoverage, type StepCounts } from '../store/run-outcomes-repository.js';
import { workDurations } from '../store/work-items-repository.js';

export interface StepTiming {
  count: number;
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
}

/** The benchmark record of PRODUCT section 3, stored on the run when it stops. */
export interface RunStats {
  startedAt: string | null;
  finishedAt: string | null;
  wallSeconds: number | null;
  counts: StepCounts;
  processed: number;
  throughputPerSec: number | null;
  steps: Record<string, StepTiming>;
  workers: number;
  workerCpuMs: number;
  peakWorkerRssBytes: number;
  workerCrashes: number;
  host: { name: string; platform: string; cpus: number; memoryBytes: number; node: string };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export async function computeRunStats(
  db: Db,
  runId: string,
  extra: {
    startedAt: string | null;
    finishedAt: string | null;
    workers: number;
    workerCpuMs: number;
    peakWorkerRssBytes: number;
    workerCrashes: number;
  },
): Promise<RunStats> {
  const { total } = await runCoverage(db, runId);
  // Timings of real work only: a reused artifact took no tool time and would flatter the figures.
  const byStep = new Map<string, number[]>();
  for (const row of await workDurations(db, runId)) {
    const list = byStep.get(row.step) ?? [];
    list.push(row.durationMs);
    byStep.set(row.step, list);
  }
  const steps: Record<string, StepTiming> = {};
  for (const [step, durations] of byStep) {
    durations.sort((a, b) => a - b);
    steps[step] = {
      count: durations.length,
      meanMs: Math.round(durations.reduce((a, b) => a + b, 0) / durations.length),
      p50Ms: percentile(durations, 50),
      p95Ms: percentile(durations, 95),
    };
  }
  const wallSeconds =
    extra.startedAt && extra.finishedAt
      ? (Date.parse(extra.finishedAt) - Date.parse(extra.startedAt)) / 1000
      : null;
  const processed = total.done + total.failed;
  return {
    startedAt: extra.startedAt,
    finishedAt: extra.finishedAt,
    wallSeconds,
    counts: total,
    processed,
    throughputPerSec:
      wallSeconds && wallSeconds > 0 ? Math.round((processed / wallSeconds) * 100) / 100 : null,
    steps,
    workers: extra.workers,
    workerCpuMs: extra.workerCpuMs,
    peakWorkerRssBytes: extra.peakWorkerRssBytes,
    workerCrashes: extra.workerCrashes,
    host: {
      name: os.hostname(),
      platform: `${os.platform()} ${os.release()}`,
      cpus: os.cpus().length,
      memoryBytes: os.totalmem(),
      node: process.version,
    },
  };
}
