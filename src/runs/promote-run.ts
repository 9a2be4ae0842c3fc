import os from 'node:os';
import { artifactFileExists } from '../artifacts/artifact-store.js';
import { ArchivistError } from '../errors.js';
import type { Home } from '../home/home.js';
import { insertPromotedRun, promotableItems, type PromotedItem } from '../store/promotions-repository.js';
import { findRun } from '../store/runs-repository.js';
import type { RunStatus } from '../store/schema.js';
import { newRunId } from './run-id.js';

/** What `run promote` did: the new production run, and what of the sandbox run it could not keep. */
export interface Promotion {
  runId: string;
  fromRunId: string;
  /** Results kept (done items with their artifact). */
  kept: number;
  /** Items copied as skipped (the step does not apply to the asset). */
  skipped: number;
  /** What was left out, by why: `failed`, `pending` (never done), `expired` (gc removed the artifact). */
  leftOut: Record<string, number>;
}

const ACTIVE: ReadonlySet<RunStatus> = new Set(['queued', 'running', 'cancelling']);

/**
 * Keeps a finished sandbox run's results as production ones without computing them again: a new
 * production run (child of the sandbox run, finished at once) takes over each done item's artifact, which
 * stops expiring and becomes its asset's current one, exactly as if a production run had made it. The
 * lineage still names the sandbox run, because that is what ran; the promotion is recorded beside it.
 */
export async function promoteRun(home: Home, ref: string): Promise<Promotion> {
  const run = await findRun(home.db, ref);
  if (run.policy !== 'sandbox') {
    throw new ArchivistError('usage', `run ${run.id} is a production run: its results are kept already`, {
      field: 'run',
    });
  }
  if (ACTIVE.has(run.status)) {
    throw new ArchivistError(
      'usage',
      `run ${run.id} is ${run.status}: only a run that has stopped can be promoted`,
      {
        field: 'run',
        hint: `Wait for it to finish (archivist run watch ${run.id}), or cancel it.`,
      },
    );
  }
  const nowIso = new Date().toISOString();
  const leftOut: Record<string, number> = {};
  const items: PromotedItem[] = [];
  for (const item of await promotableItems(home.db, run.id)) {
    if (item.status === 'skipped') {
      items.push({ ...item, status: 'skipped', kind: null });
      continue;
    }
    if (item.status !== 'done') {
      const why = item.status === 'failed' ? 'failed' : 'pending';
      leftOut[why] = (leftOut[why] ?? 0) + 1;
      continue;
    }
    const alive =
      item.artifact_id !== null &&
      (item.artifact_expires_at === null || item.artifact_expires_at > nowIso) &&
      // Only what is really in the store can be kept: gc may have deleted an expired one's file.
      artifactFileExists(home.layout, item.artifact_path!, item.artifact_size!);
    if (!alive) {
      leftOut.expired = (leftOut.expired ?? 0) + 1;
      continue;
    }
    items.push({ ...item, status: 'done', kind: item.artifact_kind });
  }
  const kept = items.filter((item) => item.status === 'done').length;
  if (kept === 0) {
    throw new ArchivistError('usage', `run ${run.id} has no results left to promote`, {
      field: 'run',
      hint: 'Its items failed, were never done, or their artifacts expired; start a production run instead.',
    });
  }
  const id = newRunId();
  await insertPromotedRun(
    home.db,
    {
      ...run,
      id,
      policy: 'production',
      parent_run_id: run.id,
      status_reason: `promoted from sandbox run ${run.id}: its results kept without computing them again`,
      host: os.hostname(),
      created_at: nowIso,
      started_at: nowIso,
      finished_at: nowIso,
      coordinator_pid: null,
      coordinator_host: null,
      heartbeat_at: null,
      // Says what the parent is to this run: kept from it, not a retry of it (`run show`, the runs page).
      stats_json: JSON.stringify({ promotedFrom: run.id }),
    },
    items,
  );
  return {
    runId: id,
    fromRunId: run.id,
    kept,
    skipped: items.length - kept,
    leftOut,
  };
}
