import type { Kysely } from 'kysely';

/**
 * Which sidecar belongs to which media file (issue 15): one row per sidecar location, linking it to the
 * location of its media file in the same folder. Locations, not assets: an edited sidecar is the same
 * location with a new asset (its new hash), so the link stays and the metadata it fed becomes stale.
 * Rewritten by the catalog's sidecar linking after every scan of a source (src/catalog/sidecar-links.ts).
 * No foreign keys to locations on purpose: the catalog deletes the old row of a moved file, and a link
 * must never stop it; a link whose location went is dropped or replaced by the next linking pass (which
 * runs in the same scan), and every read joins through present locations.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('sidecar_links')
    .addColumn('sidecar_location_id', 'bigint', (c) => c.primaryKey())
    .addColumn('media_location_id', 'bigint', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('source_id', 'bigint', (c) => c.notNull().references('sources.id'))
    .execute();
  await db.schema
    .createIndex('sidecar_links_media')
    .on('sidecar_links')
    .column('media_location_id')
    .execute();
  await db.schema.createIndex('sidecar_links_source').on('sidecar_links').column('source_id').execute();
}
