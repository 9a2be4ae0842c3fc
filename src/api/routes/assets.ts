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
import { encodeCursor, positionAfter } from '../asset-listing.js';
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
    cursor: z.string().min(1).optional(),
    offset: z.coerce.number().int().min(0).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();
export type AssetsQuery = z.output<typeof AssetsQuery>;

/** An asset of a listing: the CLI's asset JSON plus the thumbnail a grid shows (null: placeholder). */
export type AssetListItem = AssetJson & { thumbnail: { id: string; mime: string } | null };

function allStepNames(): Set<string> {
  return new Set(listPipelines().flatMap((p) => p.steps.map((s) => s.name)));
}

/** The query without its paging: what identifies one listing. */
function listingKey(q: AssetsQuery): string {
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
  return {
    source: q.source,
    mediaTypes,
    pathGlob: q.path,
    missingStep: q.missing,
    failedInRun,
    assetIds: byMetadata
      ? await ctx.metadata.matching({ takenFrom: q.takenFrom, takenTo: q.takenTo, camera: q.camera })
      : undefined,
  };
}

export function registerAssetRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const db = ctx.home.db;

  /** A page of assets with the total that matches: `{ total, items, nextCursor }`. */
  app.get('/api/assets', async (request) => {
    const q = parseInput(AssetsQuery, request.query);
    const { failedInRun } = await checkQuery(ctx, q);
    // has/lacks apply on top of the cached catalog listing: during a run every committed artifact would
    // otherwise throw the whole sorted listing away (a 0.4 s sort per request at 100,000 assets).
    const catalogQuery = { ...q, has: undefined, lacks: undefined };
    let list = await ctx.listing.ordered(
      listingKey(catalogQuery),
      {
        artifacts: Boolean(q.takenFrom || q.takenTo || q.camera),
        workItems: Boolean(q.missing || q.failedIn),
      },
      async () => orderedAssets(db, await filtersOf(ctx, catalogQuery, failedInRun)),
    );
    if (q.has) {
      const having = await assetIdsWithArtifactKind(db, q.has);
      list = list.filter((entry) => having.has(entry.id));
    }
    if (q.lacks) {
      const having = await assetIdsWithArtifactKind(db, q.lacks);
      list = list.filter((entry) => !having.has(entry.id));
    }
    const start = q.cursor !== undefined ? positionAfter(list, q.cursor) : (q.offset ?? 0);
    if (start === undefined) throw badField('cursor', 'not a cursor this server gave out');
    const slice = list.slice(start, start + q.limit);
    const assets = await assetsByIds(
      db,
      slice.map((entry) => entry.id),
    );
    const thumbnails = await artifactOfKindFor(
      db,
      assets.map((a) => a.id),
      'thumbnail',
    );
    const items: AssetListItem[] = assets.map((asset) => ({
      ...toAssetJson(asset),
      thumbnail: thumbnails.get(asset.id) ?? null,
    }));
    const end = start + slice.length;
    return {
      total: list.length,
      offset: start,
      limit: q.limit,
      nextCursor: end < list.length && slice.length > 0 ? encodeCursor(slice.at(-1)!.key) : null,
      items,
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
