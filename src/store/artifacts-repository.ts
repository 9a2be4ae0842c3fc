import { sql } from 'kysely';
import type { Db } from './database.js';
import { startsWith } from './dialect.js';
import type { ArtifactRow, LineageRow } from './schema.js';

export type ArtifactWithLineage = ArtifactRow & { lineage: LineageRow };

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
  // The schema makes lineage mandatory; a row without it would be corruption, and is not shown as valid.
  return rows.filter((row) => byId.has(row.id)).map((row) => ({ ...row, lineage: byId.get(row.id)! }));
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
      await trx
        .updateTable('work_items')
        .set({ artifact_id: null })
        .where('artifact_id', 'in', chunk)
        .execute();
      await trx.deleteFrom('lineage').where('artifact_id', 'in', chunk).execute();
      await trx.deleteFrom('artifacts').where('id', 'in', chunk).execute();
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
