import { sql } from 'kysely';
import { dropStaleKindMarks } from './asset-marks-repository.js';
import type { Db } from './database.js';
import { startsWith } from './dialect.js';
import type { ArtifactRow, LineageRow, Policy } from './schema.js';

/** A sandbox artifact kept by `run promote`: the production run that took it over, and when. */
export interface Promotion {
  runId: string;
  at: string;
}

export type ArtifactWithLineage = ArtifactRow & { lineage: LineageRow; promotion: Promotion | null };

/** The work item that names a promoted artifact in its production run has this reason (run promote). */
export const PROMOTED = 'promoted';

async function withLineage(db: Db, rows: ArtifactRow[]): Promise<ArtifactWithLineage[]> {
  if (rows.length === 0) return [];
  const lineage = await db
    .selectFrom('lineage')
    .selectAll()
    .where(
      'artifact_id',
      'in',
      rows.map((row) => row.id),
    )
    .execute();
  const byId = new Map(lineage.map((row) => [row.artifact_id, row]));
  const promotions = await db
    .selectFrom('work_items')
    .select(['artifact_id', 'run_id', 'finished_at'])
    // By asset first: work_items_asset_step serves it, where an artifact_id lookup would scan every item.
    .where('asset_id', 'in', [...new Set(rows.map((row) => row.asset_id))])
    .where(
      'artifact_id',
      'in',
      rows.map((row) => row.id),
    )
    .where('reason', '=', PROMOTED)
    .execute();
  const promotedBy = new Map(
    promotions.map((row) => [row.artifact_id, { runId: row.run_id, at: row.finished_at ?? '' }]),
  );
  // The schema makes lineage mandatory; a row without it would be corruption, and is not shown as valid.
  return rows
    .filter((row) => byId.has(row.id))
    .map((row) => ({ ...row, lineage: byId.get(row.id)!, promotion: promotedBy.get(row.id) ?? null }));
}

/** Every artifact of an asset, newest first, current ones before the rest. */
export async function artifactsOfAsset(db: Db, assetId: string): Promise<ArtifactWithLineage[]> {
  const rows = await db
    .selectFrom('artifacts')
    .selectAll()
    .where('asset_id', '=', assetId)
    .orderBy('is_current', 'desc')
    .orderBy('created_at', 'desc')
    .execute();
  return withLineage(db, rows);
}

export async function findArtifacts(db: Db, idPrefix: string): Promise<ArtifactWithLineage[]> {
  const rows = await db
    .selectFrom('artifacts')
    .selectAll()
    .where(startsWith(sql.ref('id'), idPrefix))
    .limit(6)
    .execute();
  return withLineage(db, rows);
}

/** Sandbox artifacts past their retention: what `gc` may delete. */
export async function expiredArtifacts(db: Db, nowIso: string): Promise<ArtifactRow[]> {
  return db
    .selectFrom('artifacts')
    .selectAll()
    .where('expires_at', 'is not', null)
    .where('expires_at', '<', nowIso)
    .execute();
}

/** Removes artifact records (and their lineage); work items keep their `done` and lose the pointer. */
export async function deleteArtifactRecords(db: Db, ids: readonly string[]): Promise<void> {
  await db.transaction().execute(async (trx) => {
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      const owners = await trx.selectFrom('artifacts').select('asset_id').where('id', 'in', chunk).execute();
      await trx
        .updateTable('work_items')
        .set({ artifact_id: null })
        .where('artifact_id', 'in', chunk)
        .execute();
      await trx.deleteFrom('lineage').where('artifact_id', 'in', chunk).execute();
      await trx.deleteFrom('artifacts').where('id', 'in', chunk).execute();
      // A listing's "has a thumbnail" stops with the last thumbnail record of the asset.
      await dropStaleKindMarks(
        trx,
        owners.map((o) => o.asset_id),
      );
    }
  });
}

/**
 * Every store path some record points to (other than `except`, the records about to go): `gc` never
 * deletes one of these. Content-addressed, so one file may be shared by several records.
 */
export async function referencedPaths(db: Db, except: readonly string[] = []): Promise<Set<string>> {
  const skip = new Set(except);
  const rows = await db.selectFrom('artifacts').select(['id', 'path']).execute();
  return new Set(rows.filter((row) => !skip.has(row.id)).map((row) => row.path));
}

/** Lineage of PRODUCT section 2; every field required, so forgetting one is a type error. */
export interface Lineage {
  runId: string;
  pipeline: { name: string; version: number };
  step: string;
  tool: { name: string; version: string };
  /** The decoder chain that actually ran for this artifact (the tool set above is what it chose from). */
  decoder: string | null;
  params: Record<string, unknown>;
  inputs: readonly { assetId: string; sha256: string; artifactId?: string }[];
  worker: string;
  host: string;
  durationMs: number;
  createdAt: string;
}

export interface NewArtifact {
  id: string;
  kind: string;
  step: string;
  assetId: string;
  runId: string;
  sha256: string;
  size: number;
  mime: string;
  path: string;
  cacheKey: string;
  policy: Policy;
  expiresAt: string | null;
}

/** Rows per multi-row insert: 14 parameters each, far under SQLite's and PostgreSQL's limits. */
const ROWS = 100;

/**
 * The one way artifacts enter the database: each row with its lineage, inside the caller's transaction
 * (which also marks the items done). There is no function that records one without the other. One
 * insert per table for each ROWS of them: a worker commits a batch of completions at once, and on
 * PostgreSQL each statement is a round trip and a plan.
 */
export async function recordArtifacts(
  trx: Db,
  list: readonly { artifact: NewArtifact; lineage: Lineage }[],
): Promise<void> {
  for (let i = 0; i < list.length; i += ROWS) {
    const chunk = list.slice(i, i + ROWS);
    await trx
      .insertInto('artifacts')
      .values(
        chunk.map(({ artifact, lineage }) => ({
          id: artifact.id,
          kind: artifact.kind,
          step: artifact.step,
          asset_id: artifact.assetId,
          run_id: artifact.runId,
          sha256: artifact.sha256,
          size: artifact.size,
          mime: artifact.mime,
          path: artifact.path,
          cache_key: artifact.cacheKey,
          policy: artifact.policy,
          is_current: 0,
          expires_at: artifact.expiresAt,
          created_at: lineage.createdAt,
        })),
      )
      .execute();
    await trx
      .insertInto('lineage')
      .values(
        chunk.map(({ artifact, lineage }) => ({
          artifact_id: artifact.id,
          run_id: lineage.runId,
          pipeline: `${lineage.pipeline.name}@${lineage.pipeline.version}`,
          step: lineage.step,
          tool_name: lineage.tool.name,
          tool_version: lineage.tool.version,
          decoder: lineage.decoder,
          params_json: JSON.stringify(lineage.params),
          inputs_json: JSON.stringify(lineage.inputs),
          worker: lineage.worker,
          host: lineage.host,
          duration_ms: lineage.durationMs,
          created_at: lineage.createdAt,
        })),
      )
      .execute();
  }
}

/** Takes back an artifact recorded earlier in the same transaction (its completion was refused). */
export async function deleteNewArtifact(trx: Db, id: string): Promise<void> {
  await trx.deleteFrom('lineage').where('artifact_id', '=', id).execute();
  await trx.deleteFrom('artifacts').where('id', '=', id).execute();
}

/**
 * Production artifacts become the assets' current ones of their kind (sandbox artifacts never do), two
 * statements for each ROWS of them. One current artifact per (asset, kind): of two for the same pair
 * the later one wins, as it would one after the other.
 */
export async function makeCurrentAll(
  trx: Db,
  list: readonly { artifactId: string; assetId: string; kind: string }[],
): Promise<void> {
  const chosen = [...new Map(list.map((x) => [`${x.assetId}\u0000${x.kind}`, x])).values()];
  for (let i = 0; i < chosen.length; i += ROWS) {
    const chunk = chosen.slice(i, i + ROWS);
    await trx
      .updateTable('artifacts')
      .set({ is_current: 0 })
      .where('is_current', '=', 1)
      .where((eb) =>
        eb.or(chunk.map((x) => eb.and([eb('asset_id', '=', x.assetId), eb('kind', '=', x.kind)]))),
      )
      .execute();
    await trx
      .updateTable('artifacts')
      .set({ is_current: 1 })
      .where(
        'id',
        'in',
        chunk.map((x) => x.artifactId),
      )
      .execute();
  }
}

export interface ReuseCandidate {
  id: string;
  path: string;
  size: number;
  expires_at: string | null;
  cache_key: string;
}

/** Artifacts made with any of these cache keys, newest first: what an item may reuse. */
export async function artifactsByCacheKeys(db: Db, cacheKeys: readonly string[]): Promise<ReuseCandidate[]> {
  if (cacheKeys.length === 0) return [];
  return db
    .selectFrom('artifacts')
    .select(['id', 'path', 'size', 'expires_at', 'cache_key'])
    .where('cache_key', 'in', [...new Set(cacheKeys)])
    .orderBy('created_at', 'desc')
    .execute();
}
