import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { toAssetJson, type AssetJson } from '../../catalog/asset-json.js';
import { listPipelines } from '../../pipeline/registry.js';
import {
  artifactKinds,
  artifactOfKindFor,
  assetsByIds,
  orderedAssets,
  assetIdsWithArtifactKind,
  type AssetListFilters,
} from '../../store/assets-repository.js';
import type { MediaType } from '../../store/schema.js';
import { findRun } from '../../store/runs-repository.js';
import { findSourceByName, listSources } from '../../store/sources-repository.js';
import {
  assetMtimes,
  duplicateAssetIds,
  latestFailures,
  type TileFailure,
} from '../../store/browse-repository.js';
import {
  encodeCursor,
  listingTime,
  monthGroups,
  orderByTime,
  placementOf,
  positionAfter,
  type ListedAsset,
  type ListingTime,
} from '../asset-listing.js';
import type { ApiContext } from '../context.js';
import { badField, parseInput } from '../http-errors.js';

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** `archivist assets` filters, plus what only the API offers: metadata, artifacts, failures, pages. */
export const AssetsQuery = z
  .object({
    source: z.string().min(1).optional(),
    type: z.enum(['image', 'video', 'sidecar', 'other']).optional(),
    path: z.string().min(1).optional(),
    missing: z.string().min(1).optional(),
    has: z.string().min(1).optional(),
    lacks: z.string().min(1).optional(),
    failedIn: z.string().min(1).optional(),
    takenFrom: z.string().regex(DAY, 'expected a date YYYY-MM-DD').optional(),
    takenTo: z.string().regex(DAY, 'expected a date YYYY-MM-DD').optional(),
    camera: z.string().min(1).optional(),
    /** Only assets found at more than one present location. */
    duplicates: z
      .enum(['true', 'false', '1', '0'])
      .transform((v) => v === 'true' || v === '1')
      .optional(),
    /** Capture time newest or oldest first, or `source/path` (the CLI's order, and the default). */
    sort: z.enum(['newest', 'oldest', 'path']).default('path'),
    cursor: z.string().min(1).optional(),
    offset: z.coerce.number().int().min(0).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();
export type AssetsQuery = z.output<typeof AssetsQuery>;

/**
 * An asset of a listing: the CLI's asset JSON plus what a grid tile shows: the thumbnail (null: a
 * placeholder), the time it is placed by and where that time came from, a video's duration, and the
 * failure of its latest attempt at a step (null: nothing failed, or not processed yet).
 */
export type AssetListItem = AssetJson & {
  thumbnail: { id: string; mime: string } | null;
  time: ListingTime | null;
  durationSec: number | null;
  failure: TileFailure | null;
};
export type { ListingTime, TileFailure };

function allStepNames(): Set<string> {
  return new Set(listPipelines().flatMap((p) => p.steps.map((s) => s.name)));
}

/** The query without its paging: what identifies one listing. */
function listingKey(q: Partial<AssetsQuery>): string {
  const filters: Partial<AssetsQuery> = { ...q };
  delete filters.cursor;
  delete filters.offset;
  delete filters.limit;
  return JSON.stringify(filters);
}

/** Checks every name a query refers to, as `archivist assets` does, before any listing is made. */
async function checkQuery(ctx: ApiContext, q: AssetsQuery): Promise<{ failedInRun?: string }> {
  const db = ctx.home.db;
  if (q.cursor !== undefined && q.offset !== undefined)
    throw badField('cursor', 'give either cursor or offset, not both');
  if (q.source && !(await findSourceByName(db, q.source)))
    throw badField('source', `there is no source named "${q.source}"`);
  if (q.missing) {
    const steps = allStepNames();
    if (!steps.has(q.missing)) {
      throw badField(
        'missing',
        `no pipeline has a step named "${q.missing}"`,
        `Steps: ${[...steps].sort().join(', ')}.`,
      );
    }
  }
  if (q.takenFrom && q.takenTo && q.takenFrom > q.takenTo)
    throw badField('takenTo', `${q.takenTo} is before takenFrom ${q.takenFrom}`);
  return { failedInRun: q.failedIn ? (await findRun(db, q.failedIn)).id : undefined };
}

/** Turns a checked query into repository filters; metadata filters become the ids they match. */
async function filtersOf(
  ctx: ApiContext,
  q: AssetsQuery,
  failedInRun: string | undefined,
): Promise<AssetListFilters> {
  let mediaTypes: MediaType[] | undefined = q.type ? [q.type] : undefined;
  // As in `archivist assets --missing`: steps process images and videos; other files never "miss" one.
  if (q.missing)
    mediaTypes = (mediaTypes ?? ['image', 'video']).filter((t) => t === 'image' || t === 'video');
  const byMetadata = q.takenFrom || q.takenTo || q.camera;
  let assetIds = byMetadata
    ? await ctx.metadata.matching({ takenFrom: q.takenFrom, takenTo: q.takenTo, camera: q.camera })
    : undefined;
  if (q.duplicates) {
    const duplicates = await duplicateAssetIds(ctx.home.db);
    const matched = assetIds && new Set(assetIds);
    assetIds = matched ? duplicates.filter((id) => matched.has(id)) : duplicates;
  }
  return {
    source: q.source,
    mediaTypes,
    pathGlob: q.path,
    missingStep: q.missing,
    failedInRun,
    assetIds,
  };
}

/**
 * The whole ordered listing of a query, paging left aside: the catalog listing in path order (cached while
 * the catalog is unchanged), ordered by time when asked, then has/lacks applied on top of it.
 */
async function listingOf(
  ctx: ApiContext,
  q: AssetsQuery,
  failedInRun?: string,
): Promise<{ list: ListedAsset[]; settling: boolean }> {
  const db = ctx.home.db;
  // has/lacks apply on top of the cached catalog listing: during a run every committed artifact would
  // otherwise throw the whole sorted listing away (a 0.4 s sort per request at 100,000 assets).
  const catalogQuery = { ...q, has: undefined, lacks: undefined, sort: 'path' as const };
  const depends = {
    artifacts: Boolean(q.takenFrom || q.takenTo || q.camera),
    workItems: Boolean(q.missing || q.failedIn),
  };
  let { list, settling } = await ctx.listing.ordered(listingKey(catalogQuery), depends, async () =>
    orderedAssets(db, await filtersOf(ctx, catalogQuery, failedInRun)),
  );
  const { sort } = q;
  if (sort !== 'path') {
    const byPath = list;
    ({ list, settling } = await ctx.listing.ordered(
      listingKey({ ...catalogQuery, sort }),
      { ...depends, artifacts: true, settleMs: 2000 },
      async () => {
        const [facts, mtimes] = await Promise.all([ctx.metadata.byAsset(), assetMtimes(db)]);
        return orderByTime(byPath, (id) => placementOf(facts.get(id), mtimes.get(id)), sort);
      },
    ));
  }
  if (q.has) {
    const having = await assetIdsWithArtifactKind(db, q.has);
    list = list.filter((entry) => having.has(entry.id));
  }
  if (q.lacks) {
    const having = await assetIdsWithArtifactKind(db, q.lacks);
    list = list.filter((entry) => !having.has(entry.id));
  }
  return { list, settling };
}

export function registerAssetRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const db = ctx.home.db;

  /** A page of assets with the total that matches: `{ total, items, nextCursor }`. */
  app.get('/api/assets', async (request) => {
    const q = parseInput(AssetsQuery, request.query);
    const { failedInRun } = await checkQuery(ctx, q);
    const { list, settling } = await listingOf(ctx, q, failedInRun);
    const start = q.cursor !== undefined ? positionAfter(list, q.cursor) : (q.offset ?? 0);
    if (start === undefined) throw badField('cursor', 'not a cursor this server gave out');
    const slice = list.slice(start, start + q.limit);
    const assets = await assetsByIds(
      db,
      slice.map((entry) => entry.id),
    );
    const ids = assets.map((a) => a.id);
    const [thumbnails, failures, facts] = await Promise.all([
      artifactOfKindFor(db, ids, 'thumbnail'),
      latestFailures(db, ids),
      ctx.metadata.byAsset(),
    ]);
    const items: AssetListItem[] = assets.map((asset) => {
      const present = asset.locations.filter((l) => l.status === 'present');
      const mtimes = (present.length > 0 ? present : asset.locations).map((l) =>
        Number(BigInt(l.mtimeNs) / 1_000_000n),
      );
      const assetFacts = facts.get(asset.id);
      return {
        ...toAssetJson(asset),
        thumbnail: thumbnails.get(asset.id) ?? null,
        time: listingTime(assetFacts, mtimes.length > 0 ? Math.min(...mtimes) : undefined),
        durationSec: assetFacts?.durationSec ?? null,
        failure: failures.get(asset.id) ?? null,
      };
    });
    const end = start + slice.length;
    return {
      total: list.length,
      offset: start,
      limit: q.limit,
      nextCursor: end < list.length && slice.length > 0 ? encodeCursor(slice.at(-1)!.key) : null,
      // The time order is being re-sorted for metadata made since: ask again in a moment for the newer one.
      settling,
      items,
    };
  });

  /**
   * The month headers of a time-ordered listing (same query as /api/assets, without paging): each month
   * with how many assets it has and where it starts, for a grid's headers and its year list.
   */
  app.get('/api/assets/timeline', async (request) => {
    const q = parseInput(AssetsQuery, request.query);
    if (q.cursor !== undefined || q.offset !== undefined)
      throw badField(q.cursor !== undefined ? 'cursor' : 'offset', 'the timeline is of the whole listing');
    const { failedInRun } = await checkQuery(ctx, q);
    const { list, settling } = await listingOf(ctx, q, failedInRun);
    return {
      total: list.length,
      sort: q.sort,
      settling,
      groups: q.sort === 'path' ? [] : monthGroups(list),
    };
  });

  /** What the filters can choose from. Cameras come from metadata artifacts (empty before a run made any). */
  app.get('/api/facets', async () => ({
    sources: (await listSources(db)).map((s) => s.name),
    types: ['image', 'video', 'sidecar', 'other'],
    steps: [...allStepNames()].sort(),
    artifactKinds: await artifactKinds(db),
    cameras: await ctx.metadata.cameras(),
  }));
}
