import { sql } from 'kysely';
import { cameraKey, NO_FACTS, placementOf, type CaptureFacts } from '../catalog/capture-facts.js';
import { syncMarksWithFacts } from './asset-marks-repository.js';
import { chunksOf } from './chunks.js';
import type { Db } from './database.js';
import type { AssetFactsTable, MediaType } from './schema.js';

/**
 * Writes of the asset_facts table (migration 0011): the catalog lists and places assets by their file
 * time, and a metadata artifact made current places its asset by its capture time, in the transaction
 * that makes it current. Listings read the table (listing-repository.ts).
 */

export interface FactsInput {
  assetId: string;
  listed: boolean;
  mediaType: MediaType;
  fileMtimeMs: number;
  facts: CaptureFacts;
  metadataArtifactId: string | null;
}

export function factsRowOf(input: FactsInput): AssetFactsTable {
  const { facts } = input;
  const place = placementOf(facts, input.fileMtimeMs);
  return {
    asset_id: input.assetId,
    listed: input.listed ? 1 : 0,
    media_type: input.mediaType,
    file_mtime_ms: input.fileMtimeMs,
    sort_ms: place.ms,
    month: place.month,
    taken_day: place.day,
    metadata_artifact_id: input.metadataArtifactId,
    taken_at: facts.takenAt,
    taken_at_source: facts.takenAtSource,
    taken_at_local: facts.takenAtLocal,
    time_zone: facts.timeZone,
    time_zone_source: facts.timeZoneSource,
    camera: facts.camera,
    camera_key: cameraKey(facts.camera),
    duration_sec: facts.durationSec,
  };
}

/** Rows per multi-row insert: 16 columns x 400 rows stays far below SQLite's bound-parameter cap. */
const ROWS_PER_INSERT = 400;

/**
 * Assets the catalog just gave a location: listed, and placed by their file time unless metadata placed
 * them already. A file time earlier than the recorded one wins (a copy is newer than its original).
 */
export async function listCatalogedAssets(
  trx: Db,
  assets: readonly { assetId: string; mediaType: MediaType; mtimeMs: number }[],
): Promise<Map<string, { sortMs: number; month: string }>> {
  const byId = new Map<string, (typeof assets)[number]>();
  for (const a of assets) {
    const had = byId.get(a.assetId);
    if (!had || a.mtimeMs < had.mtimeMs) byId.set(a.assetId, a);
  }
  const rows = [...byId.values()].map((a) =>
    factsRowOf({
      assetId: a.assetId,
      listed: true,
      mediaType: a.mediaType,
      fileMtimeMs: a.mtimeMs,
      facts: NO_FACTS,
      metadataArtifactId: null,
    }),
  );
  const earlier = sql<boolean>`excluded.file_mtime_ms < asset_facts.file_mtime_ms`;
  // Placed by the file time (no capture day): an earlier file time moves it; a capture time stays.
  const byFileTime = sql<boolean>`asset_facts.taken_day is null and ${earlier}`;
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    await trx
      .insertInto('asset_facts')
      .values(rows.slice(i, i + ROWS_PER_INSERT))
      .onConflict((oc) =>
        oc.column('asset_id').doUpdateSet({
          listed: 1,
          file_mtime_ms: sql`case when ${earlier} then excluded.file_mtime_ms else asset_facts.file_mtime_ms end`,
          sort_ms: sql`case when ${byFileTime} then excluded.sort_ms else asset_facts.sort_ms end`,
          month: sql`case when ${byFileTime} then excluded.month else asset_facts.month end`,
        }),
      )
      .execute();
  }
  // Where each would be placed by its file time: what a new asset's row says (an existing one may differ).
  return new Map(rows.map((r) => [r.asset_id, { sortMs: r.sort_ms, month: r.month }]));
}

/** Assets whose last location went (its file now holds other bytes): no longer listed. */
export async function unlistOrphans(trx: Db, assetIds: readonly string[]): Promise<void> {
  for (let i = 0; i < assetIds.length; i += 500) {
    await trx
      .updateTable('asset_facts')
      .set({ listed: 0 })
      .where('asset_id', 'in', assetIds.slice(i, i + 500))
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('locations')
              .select('locations.id')
              .whereRef('locations.asset_id', '=', 'asset_facts.asset_id'),
          ),
        ),
      )
      .execute();
  }
}

/** A metadata result: its asset, artifact and facts, and whether it became current. */
export interface MetadataResult {
  assetId: string;
  artifactId: string;
  facts: CaptureFacts;
  current: boolean;
}

/**
 * Metadata artifacts were committed: their capture facts replace the previous ones and each asset is
 * placed anew, inside the caller's transaction, so no listing sees an artifact without them. One that
 * became current always does; a sandbox one (never current) only while the asset has no current
 * metadata, so a first look at an archive is placed by capture time, and production results are never
 * overridden. For a completion batch's results, each asset at most once: one read, one upsert and one
 * update of the marks for all of them (on PostgreSQL each statement is a round trip,
 * and per result these were most of a metadata item's bookkeeping).
 */
export async function recordCaptureFactsOf(trx: Db, results: readonly MetadataResult[]): Promise<void> {
  const rows: AssetFactsTable[] = [];
  for (const chunk of chunksOf(results, ROWS_PER_INSERT)) {
    const existing = await trx
      .selectFrom('asset_facts')
      .leftJoin('artifacts', 'artifacts.id', 'asset_facts.metadata_artifact_id')
      .select([
        'asset_facts.asset_id',
        'asset_facts.listed',
        'asset_facts.media_type',
        'asset_facts.file_mtime_ms',
        'artifacts.is_current',
      ])
      .where(
        'asset_facts.asset_id',
        'in',
        chunk.map((r) => r.assetId),
      )
      .execute();
    const byAsset = new Map(existing.map((row) => [row.asset_id, row]));
    for (const result of chunk) {
      const row = byAsset.get(result.assetId);
      if (!result.current && Number(row?.is_current ?? 0) === 1) continue;
      const base = row ?? (await uncatalogedBase(trx, result.assetId));
      if (!base) continue; // not an asset of this catalog
      rows.push(
        factsRowOf({
          assetId: result.assetId,
          listed: Number(base.listed) === 1,
          mediaType: base.media_type,
          fileMtimeMs: Number(base.file_mtime_ms),
          facts: result.facts,
          metadataArtifactId: result.artifactId,
        }),
      );
    }
  }
  for (const chunk of chunksOf(rows, ROWS_PER_INSERT)) {
    // listed, media_type and the file time are the catalog's, written back as they were read.
    await trx
      .insertInto('asset_facts')
      .values(chunk)
      .onConflict((oc) =>
        oc.column('asset_id').doUpdateSet((eb) => ({
          listed: eb.ref('excluded.listed'),
          media_type: eb.ref('excluded.media_type'),
          file_mtime_ms: eb.ref('excluded.file_mtime_ms'),
          sort_ms: eb.ref('excluded.sort_ms'),
          month: eb.ref('excluded.month'),
          taken_day: eb.ref('excluded.taken_day'),
          metadata_artifact_id: eb.ref('excluded.metadata_artifact_id'),
          taken_at: eb.ref('excluded.taken_at'),
          taken_at_source: eb.ref('excluded.taken_at_source'),
          taken_at_local: eb.ref('excluded.taken_at_local'),
          time_zone: eb.ref('excluded.time_zone'),
          time_zone_source: eb.ref('excluded.time_zone_source'),
          camera: eb.ref('excluded.camera'),
          camera_key: eb.ref('excluded.camera_key'),
          duration_sec: eb.ref('excluded.duration_sec'),
        })),
      )
      .execute();
  }
  // The marks carry the asset's place too (its filtered listings are read from them).
  await syncMarksWithFacts(
    trx,
    rows.map((r) => r.asset_id),
  );
}

/** An asset with no facts row yet (made by hand, as tests do): listed when it has a location. */
async function uncatalogedBase(trx: Db, assetId: string) {
  const asset = await trx
    .selectFrom('assets')
    .select('media_type')
    .where('id', '=', assetId)
    .executeTakeFirst();
  if (!asset) return undefined;
  const location = await trx
    .selectFrom('locations')
    .select(sql<string | null>`min(mtime_ns)`.as('mtime'))
    .where('asset_id', '=', assetId)
    .executeTakeFirst();
  const mtime = location?.mtime ?? null;
  return {
    listed: mtime === null ? 0 : 1,
    media_type: asset.media_type,
    file_mtime_ms: mtime === null ? 0 : Number(BigInt(mtime) / 1_000_000n),
  };
}
