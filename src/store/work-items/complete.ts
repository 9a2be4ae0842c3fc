import {
  deleteNewArtifact,
  makeCurrentAll,
  recordArtifacts,
  type Lineage,
  type NewArtifact,
} from '../artifacts-repository.js';
import { sql } from 'kysely';
import type { Db } from '../database.js';
import { dialectOf, withWriteLock } from '../dialect.js';
import type { WorkItemRow } from '../schema.js';
import { WorkerTally } from '../run-workers-repository.js';
import type { CaptureFacts } from '../../catalog/capture-facts.js';
import { recordCaptureFactsOf } from '../asset-facts-repository.js';
import { indexRelationsAfterMetadata } from '../../catalog/relation-index.js';
import { addMarks, kindMark, stepMark } from '../asset-marks-repository.js';

export interface DoneResult {
  durationMs: number;
  /** A new artifact with its lineage, or an existing one found by cache key (reused), or none. */
  artifact: { created: NewArtifact; lineage: Lineage } | { reusedId: string } | null;
  makeCurrent: { assetId: string; kind: string } | null;
  /** A metadata artifact's capture facts: the listings' asset_facts row is written with the artifact. */
  capture?: CaptureFacts;
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

/** Items per fenced UPDATE: 6 parameters each, well under SQLite's and PostgreSQL's limits. */
const CHUNK = 500;

/**
 * Marks items done inside the caller's write transaction: the artifact rows and their lineage first,
 * then every item's `done` in one statement per chunk, fenced per row by owner and epoch (an item whose
 * lease was taken over matches no row, and RETURNING leaves it out). A refused completion leaves no row
 * behind (its artifact rows go again in this same transaction; its file stays in the store for `gc`), is
 * counted for its worker, and is reported as false. One statement for a batch instead of one per item:
 * on PostgreSQL every statement is a round trip, and these were most of the bookkeeping.
 */
export async function recordCompletions(
  trx: Db,
  owner: string,
  entries: readonly Completion[],
  tally?: WorkerTally,
): Promise<boolean[]> {
  if (entries.length === 0) return [];
  await recordArtifacts(
    trx,
    entries.flatMap(({ result }) =>
      result.artifact && 'created' in result.artifact
        ? [{ artifact: result.artifact.created, lineage: result.artifact.lineage }]
        : [],
    ),
  );
  // By item and epoch: a stale attempt and the same worker's new one may sit in one batch.
  const accepted = new Set<string>();
  for (let i = 0; i < entries.length; i += CHUNK) {
    for (const key of await markDone(trx, owner, entries.slice(i, i + CHUNK))) accepted.add(key);
  }
  const recorded = entries.map(({ item }) => accepted.has(`${item.id}:${item.lease_epoch}`));
  for (const [i, { result }] of entries.entries()) {
    if (!recorded[i] && result.artifact && 'created' in result.artifact) {
      // Never visible: the rows go in the same transaction that wrote them.
      await deleteNewArtifact(trx, result.artifact.created.id);
    }
  }
  await makeCurrentAll(
    trx,
    entries.flatMap(({ result }, i) => {
      const artifactId = artifactIdOf(result);
      return recorded[i] && artifactId && result.makeCurrent
        ? [{ artifactId, assetId: result.makeCurrent.assetId, kind: result.makeCurrent.kind }]
        : [];
    }),
  );
  const metadata = entries.flatMap(({ item, result }, i) => {
    const artifactId = artifactIdOf(result);
    return recorded[i] && artifactId && result.capture
      ? [{ assetId: item.asset_id, artifactId, facts: result.capture, current: result.makeCurrent !== null }]
      : [];
  });
  // An asset twice in a batch (a stale attempt and a new one) is written twice, in order, as before.
  for (const results of layersOfUnique(metadata, (r) => r.assetId)) {
    // The listings' facts move with the metadata, in this same transaction.
    await recordCaptureFactsOf(trx, results);
    // And the pairs they are part of (relation-index.ts), for the grid's folded tiles and filters.
    await indexRelationsAfterMetadata(trx, results);
  }
  // The listings' marks (has a kind, done a step), with the completion that earns them.
  await addMarks(
    trx,
    entries.flatMap(({ item, result }, i) => {
      if (!recorded[i]) return [];
      const marks = [{ assetId: item.asset_id, mark: stepMark(item.step) }];
      if (result.artifact && 'created' in result.artifact)
        marks.push({
          assetId: result.artifact.created.assetId,
          mark: kindMark(result.artifact.created.kind),
        });
      return marks;
    }),
  );
  // Counted into the caller's tally when it writes one of its own later in this transaction (a claim).
  const counts = tally ?? new WorkerTally();
  entries.forEach(({ item }, i) => counts.add(item.run_id, recorded[i] ? { done: 1 } : { refused: 1 }));
  if (!tally) await counts.write(trx, owner, dialectOf(trx).nowMs());
  return recorded;
}

function artifactIdOf(result: DoneResult): string | null {
  if (!result.artifact) return null;
  return 'created' in result.artifact ? result.artifact.created.id : result.artifact.reusedId;
}

/** What the fenced UPDATE of a chunk sets and checks, per item. */
interface DoneRow {
  id: number;
  epoch: number;
  artifactId: string | null;
  reused: number;
  durationMs: number;
}

/**
 * Marks a chunk done, fenced per row in the WHERE clause: this owner, this epoch, still running. Returns
 * `id:epoch` of each row it changed.
 */
async function markDone(trx: Db, owner: string, chunk: readonly Completion[]): Promise<string[]> {
  const rows = chunk.map(({ item, result }): DoneRow => ({
    id: item.id,
    epoch: item.lease_epoch,
    artifactId: artifactIdOf(result),
    reused: result.artifact !== null && !('created' in result.artifact) ? 1 : 0,
    durationMs: result.durationMs,
  }));
  const finishedAt = new Date().toISOString();
  const updated =
    dialectOf(trx).name === 'postgres'
      ? await markDoneByArrays(trx, owner, rows, finishedAt)
      : await markDoneByValues(trx, owner, rows, finishedAt);
  return updated.map((row) => `${Number(row.id)}:${Number(row.lease_epoch)}`);
}

type Updated = { id: number; lease_epoch: number }[];

/** SQLite: one UPDATE ... FROM (VALUES ...); its columns are column1..n. */
async function markDoneByValues(
  trx: Db,
  owner: string,
  rows: readonly DoneRow[],
  finishedAt: string,
): Promise<Updated> {
  const values = rows.map(
    (r) =>
      sql`(cast(${r.id} as bigint), cast(${r.epoch} as bigint), cast(${r.artifactId} as text), cast(${r.reused} as integer), cast(${r.durationMs} as bigint))`,
  );
  const { rows: updated } = await sql<{ id: number; lease_epoch: number }>`update work_items set
      status = 'done', artifact_id = v.column3, reused = v.column4, duration_ms = v.column5,
      lease_owner = null, lease_expires_at = null, finished_at = ${finishedAt},
      reason = null, message = null
    from (values ${sql.join(values)}) as v
    where work_items.id = v.column1 and work_items.lease_epoch = v.column2
      and work_items.lease_owner = ${owner} and work_items.status = 'running'
    returning work_items.id, work_items.lease_epoch`.execute(trx);
  return updated;
}

/**
 * PostgreSQL: the chunk as five array parameters, and no join. Joined with a VALUES list, the planner
 * took the running items from an index it believed held one row (the statistics are taken between runs,
 * when none is running) and compared every running item with every value: 500 running items against a
 * chunk of 250 was 125,000 comparisons and 100-270 ms per commit, growing with the workers' squared
 * batch; planning and binding 1,250 parameters cost as much again. Here the rows come by primary key
 * (`id = any`) and each finds its values by its position in the id array. Ids are unique within one
 * statement (see `layersOfUnique`), so the position is the item's own.
 */
async function markDoneByArrays(
  trx: Db,
  owner: string,
  rows: readonly DoneRow[],
  finishedAt: string,
): Promise<Updated> {
  const updated: Updated = [];
  for (const layer of layersOfUnique(rows, (r) => r.id)) {
    const ids = layer.map((r) => r.id);
    const at = sql`array_position(${ids}::bigint[], work_items.id)`;
    const { rows: changed } = await sql<{ id: number; lease_epoch: number }>`update work_items set
        status = 'done',
        artifact_id = (${layer.map((r) => r.artifactId)}::text[])[${at}],
        reused = (${layer.map((r) => r.reused)}::bigint[])[${at}],
        duration_ms = (${layer.map((r) => r.durationMs)}::bigint[])[${at}],
        lease_owner = null, lease_expires_at = null, finished_at = ${finishedAt},
        reason = null, message = null
      where work_items.id = any(${ids}::bigint[])
        and work_items.lease_epoch = (${layer.map((r) => r.epoch)}::bigint[])[${at}]
        and work_items.lease_owner = ${owner} and work_items.status = 'running'
      returning work_items.id, work_items.lease_epoch`.execute(trx);
    updated.push(...changed);
  }
  return updated;
}

/**
 * The rows split so that no key appears twice in one part, in order: a stale attempt of an item and the
 * same worker's new attempt of it may sit in one batch (nearly always there is one part).
 */
function layersOfUnique<T, K>(rows: readonly T[], keyOf: (row: T) => K): T[][] {
  const layers: { keys: Set<K>; rows: T[] }[] = [];
  for (const row of rows) {
    const key = keyOf(row);
    let layer = layers.find((l) => !l.keys.has(key));
    if (!layer) layers.push((layer = { keys: new Set(), rows: [] }));
    layer.keys.add(key);
    layer.rows.push(row);
  }
  return layers.map((l) => l.rows);
}
