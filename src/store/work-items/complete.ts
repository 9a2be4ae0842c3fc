import {
  deleteNewArtifact,
  makeCurrent,
  recordArtifact,
  type Lineage,
  type NewArtifact,
} from '../artifacts-repository.js';
import type { Db } from '../database.js';
import { dialectOf, withWriteLock } from '../dialect.js';
import type { WorkItemRow } from '../schema.js';
import { countForWorker } from '../run-workers-repository.js';

export interface DoneResult {
  durationMs: number;
  /** A new artifact with its lineage, or an existing one found by cache key (reused), or none. */
  artifact: { created: NewArtifact; lineage: Lineage } | { reusedId: string } | null;
  makeCurrent: { assetId: string; kind: string } | null;
}

export interface Completion {
  item: WorkItemRow;
  result: DoneResult;
}

/** `recordCompletions` in a write transaction of its own. */
export async function completeItems(
  db: Db,
  owner: string,
  entries: readonly Completion[],
): Promise<boolean[]> {
  if (entries.length === 0) return [];
  return withWriteLock(db, (trx) => recordCompletions(trx, owner, entries));
}

/**
 * Marks items done inside the caller's write transaction: per item, the artifact row, its lineage and
 * the item's `done`, committed only where owner and epoch still match (the updated row count says). A
 * refused completion leaves no row behind (its artifact file stays in the store for `gc`), is counted
 * for its worker, and is reported as false.
 */
export async function recordCompletions(
  trx: Db,
  owner: string,
  entries: readonly Completion[],
): Promise<boolean[]> {
  const recorded: boolean[] = [];
  for (const { item, result } of entries) {
    let artifactId: string | null = null;
    let reused = 0;
    if (result.artifact && 'created' in result.artifact) {
      await recordArtifact(trx, result.artifact.created, result.artifact.lineage);
      artifactId = result.artifact.created.id;
    } else if (result.artifact) {
      artifactId = result.artifact.reusedId;
      reused = 1;
    }
    const done = await trx
      .updateTable('work_items')
      .set({
        status: 'done',
        artifact_id: artifactId,
        reused,
        lease_owner: null,
        lease_expires_at: null,
        finished_at: new Date().toISOString(),
        duration_ms: result.durationMs,
        reason: null,
        message: null,
      })
      .where('id', '=', item.id)
      .where('lease_owner', '=', owner)
      .where('lease_epoch', '=', item.lease_epoch)
      .where('status', '=', 'running')
      .executeTakeFirst();
    const ours = Number(done.numUpdatedRows) === 1;
    if (!ours && result.artifact && 'created' in result.artifact) {
      // Never visible: the rows go in the same transaction that wrote them.
      await deleteNewArtifact(trx, result.artifact.created.id);
    }
    if (ours && artifactId && result.makeCurrent) {
      await makeCurrent(trx, artifactId, result.makeCurrent.assetId, result.makeCurrent.kind);
    }
    recorded.push(ours);
  }
  const byRun = new Map<string, { done: number; refused: number }>();
  entries.forEach(({ item }, i) => {
    const counts = byRun.get(item.run_id) ?? { done: 0, refused: 0 };
    counts[recorded[i] ? 'done' : 'refused']++;
    byRun.set(item.run_id, counts);
  });
  for (const [runId, counts] of byRun)
    await countForWorker(trx, runId, owner, counts, dialectOf(trx).nowMs());
  return recorded;
}
