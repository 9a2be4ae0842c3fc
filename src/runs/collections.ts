import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ArchivistError } from '../errors.js';
import type { Db } from '../store/database.js';
import { assetIdsMatching } from '../store/assets-repository.js';
import { findCollection, insertCollection } from '../store/collections-repository.js';
import type { CollectionRow, MediaType } from '../store/schema.js';
import { assetIdsOfRunWithStatus } from '../store/run-outcomes-repository.js';
import { runExists } from '../store/runs-repository.js';
import { findSourceByName } from '../store/sources-repository.js';

export const CollectionFilters = z
  .object({
    source: z.string().min(1).optional(),
    type: z.enum(['image', 'video', 'sidecar', 'other']).optional(),
    path: z.string().min(1).optional(),
    sample: z
      .object({ n: z.number().int().min(1), seed: z.number().int() })
      .strict()
      .optional(),
    fromRun: z
      .object({ run: z.string().min(1), status: z.enum(['failed', 'done', 'skipped', 'pending']) })
      .strict()
      .optional(),
  })
  .strict();
export type CollectionFilters = z.infer<typeof CollectionFilters>;

const NAME = /^[\p{L}\p{N}][\p{L}\p{N}._-]{0,63}$/u;

export async function createCollection(
  db: Db,
  name: string,
  filters: CollectionFilters,
): Promise<CollectionRow> {
  if (!NAME.test(name)) {
    throw new ArchivistError('usage', `invalid collection name "${name}"`, {
      hint: 'Use 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit.',
    });
  }
  if (await findCollection(db, name))
    throw new ArchivistError('usage', `a collection named "${name}" already exists`);
  if (filters.source && !(await findSourceByName(db, filters.source))) {
    throw new ArchivistError('source-unknown', `there is no source named "${filters.source}"`);
  }
  if (filters.fromRun) {
    if (!(await runExists(db, filters.fromRun.run)))
      throw new ArchivistError('not-found', `there is no run ${filters.fromRun.run}`);
  }
  return insertCollection(db, name, JSON.stringify(filters), new Date().toISOString());
}

export async function getCollection(
  db: Db,
  name: string,
): Promise<{ row: CollectionRow; filters: CollectionFilters }> {
  const row = await findCollection(db, name);
  if (!row) {
    throw new ArchivistError('not-found', `there is no collection named "${name}"`, {
      field: 'collection',
      hint: 'Create one with `archivist collection create <name> [filters]` (no filters: every asset).',
    });
  }
  return { row, filters: CollectionFilters.parse(JSON.parse(row.filters_json)) };
}

/** A stable pseudo-random rank of an asset under a seed: the same seed always picks the same sample. */
export function seededRank(seed: number, assetId: string): string {
  return createHash('sha256').update(`${seed}:${assetId}`).digest('hex');
}

/** The assets a collection means right now; a run freezes this list into its work items. */
export async function resolveCollection(
  db: Db,
  filters: CollectionFilters,
): Promise<{ id: string; mediaType: MediaType }[]> {
  let assets = await assetIdsMatching(db, {
    source: filters.source,
    mediaTypes: filters.type ? [filters.type] : undefined,
    pathGlob: filters.path,
  });
  if (filters.fromRun) {
    const wanted = await assetIdsOfRunWithStatus(db, filters.fromRun.run, filters.fromRun.status);
    assets = assets.filter((asset) => wanted.has(asset.id));
  }
  if (filters.sample) {
    const { n, seed } = filters.sample;
    assets = assets
      .map((asset) => ({ asset, rank: seededRank(seed, asset.id) }))
      .sort((a, b) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : 0))
      .slice(0, n)
      .map((entry) => entry.asset);
  }
  return assets;
}

export interface CollectionJson {
  name: string;
  filters: CollectionFilters;
  assets: number;
  createdAt: string;
  /** With detail (`collection show`): the scope by media type and every asset id. */
  byType?: Record<string, number>;
  assetIds?: string[];
}

/** `collection list/show --json` and the collection endpoints: a collection with what it means now. */
export async function collectionJson(db: Db, row: CollectionRow, detail = false): Promise<CollectionJson> {
  const filters = CollectionFilters.parse(JSON.parse(row.filters_json));
  const assets = await resolveCollection(db, filters);
  const base: CollectionJson = { name: row.name, filters, assets: assets.length, createdAt: row.created_at };
  if (!detail) return base;
  const byType: Record<string, number> = {};
  for (const asset of assets) byType[asset.mediaType] = (byType[asset.mediaType] ?? 0) + 1;
  return { ...base, byType, assetIds: assets.map((a) => a.id) };
}
