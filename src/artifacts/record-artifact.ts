import type { Kysely } from 'kysely';
import type { Database, Policy } from '../store/schema.js';

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

/**
 * The one way an artifact enters the database: its row and its lineage together, inside the caller's
 * transaction (which also marks the item done). There is no function that records one without the other.
 */
export async function recordArtifact(
  trx: Kysely<Database>,
  artifact: NewArtifact,
  lineage: Lineage,
): Promise<void> {
  await trx
    .insertInto('artifacts')
    .values({
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
    })
    .execute();
  await trx
    .insertInto('lineage')
    .values({
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
    })
    .execute();
}

/** Production artifacts become the asset's current ones of their kind; sandbox artifacts never do. */
export async function makeCurrent(
  trx: Kysely<Database>,
  artifactId: string,
  assetId: string,
  kind: string,
): Promise<void> {
  await trx
    .updateTable('artifacts')
    .set({ is_current: 0 })
    .where('asset_id', '=', assetId)
    .where('kind', '=', kind)
    .where('is_current', '=', 1)
    .execute();
  await trx.updateTable('artifacts').set({ is_current: 1 }).where('id', '=', artifactId).execute();
}
