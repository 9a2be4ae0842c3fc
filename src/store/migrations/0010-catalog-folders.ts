import { sql, type Kysely } from 'kysely';

// Landed once merged: never edit this file; add a new numbered migration instead.
/**
 * The catalog in bounded memory (issue 17): a re-scan reconciles folder by folder against the database
 * instead of loading every location of a source.
 * - locations.dir: the folder of the path ('' at the root), filled here for the rows there are;
 * - locations (source_id, dir): the known files of one folder, and the folders a scan did not visit;
 * - locations (source_id, inode): a file seen at a new path with a known (inode, size, mtime) moved
 *   within the filesystem and is not read again.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('locations')
    .addColumn('dir', 'text', (c) => c.notNull().defaultTo(''))
    .execute();
  // rtrim(path, every character of path but '/') leaves what is up to the last '/': the same on both
  // dialects, with no dirname function in either.
  await sql`update locations set dir = rtrim(rtrim(path, replace(path, '/', '')), '/')
    where path like '%/%'`.execute(db);
  await db.schema.createIndex('locations_source_dir').on('locations').columns(['source_id', 'dir']).execute();
  await db.schema
    .createIndex('locations_source_inode')
    .on('locations')
    .columns(['source_id', 'inode'])
    .execute();
}
