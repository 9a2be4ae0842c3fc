import type { Db } from './database.js';
import type { CollectionRow } from './schema.js';

export async function insertCollection(
  db: Db,
  name: string,
  filtersJson: string,
  now: string,
): Promise<CollectionRow> {
  return db
    .insertInto('collections')
    .values({ name, filters_json: filtersJson, created_at: now })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function findCollection(db: Db, name: string): Promise<CollectionRow | undefined> {
  return db.selectFrom('collections').selectAll().where('name', '=', name).executeTakeFirst();
}

export async function listCollections(db: Db): Promise<CollectionRow[]> {
  return db.selectFrom('collections').selectAll().orderBy('name').execute();
}
