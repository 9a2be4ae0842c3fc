import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { toAssetJson, type AssetJson } from '../../catalog/asset-json.js';
import { listPipelines } from '../../pipeline/registry.js';
import { listingTime, type CaptureFacts, type ListingTime } from '../../catalog/capture-facts.js';
import { artifactKinds, artifactOfKindFor, assetsByIds } from '../../store/assets-repository.js';
import type { ListingFilters } from '../../store/listing-filters.js';
import {
  catalogVersion,
  countListed,
  factsOfAssets,
  isKnownCamera,
  knownCameras,
  monthCounts,
  pathPage,
  timePage,
} from '../../store/listing-repository.js';
import { relationsOfAssets } from '../../store/relations-repository.js';
import type { MediaType } from '../../store/schema.js';
import { findRun } from '../../store/runs-repository.js';
import { findSourceByName, listSources } from '../../store/sources-repository.js';
import { latestFailures, type TileFailure } from '../../store/browse-repository.js';
import type { AssetFactsRow } from '../../store/schema.js';
import type { ApiContext } from '../context.js';
import { decodePathCursor, decodeTimeCursor, pathCursor, timeCursor } from '../listing-cursor.js';
import { badField, parseInput } from '../http-errors.js';

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

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
    /** One tile per pair: leave out a Live Photo's video and a RAW+JPEG pair's RAW (the grid's default). */
    foldPairs: z
      .enum(['true', 'false', '1', '0'])
      .transform((v) => v === 'true' || v === '1')
      .optional(),
    /** Only assets with a related file (core@2: a Live Photo's other half, a RAW+JPEG twin). */
    relatives: z
      .enum(['true', 'false', '1', '0'])
      .transform((v) => v === 'true' || v === '1')
      .optional(),
    /** Capture time newest or oldest first, or `source/path` (the CLI's order, and the default). */
    sort: z.enum(['newest', 'oldest', 'path']).default('path'),
    cursor: z.string().min(1).optional(),
    /** A time order from this month on (the grid's jump to a year or month); `offset` counts from there. */
    month: z.string().regex(MONTH, 'expected a month YYYY-MM').optional(),
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
  /** Its related files from the relation index (a tile's LIVE or RAW+JPEG badge); `asset` has the detail. */
  relatives: { assetId: string; relation: string }[];
};
export type { ListingTime, TileFailure };

function allStepNames(): Set<string> {
  return new Set(listPipelines().flatMap((p) => p.steps.map((s) => s.name)));
}

/** Checks every name a query refers to, as `archivist assets` does, and makes the listing's filters. */
async function filtersOf(ctx: ApiContext, q: AssetsQuery): Promise<ListingFilters> {
  const db = ctx.home.db;
  if (q.cursor !== undefined && (q.offset !== undefined || q.month !== undefined))
    throw badField('cursor', 'give either cursor or offset and month, not both');
  if (q.month !== undefined && q.sort === 'path')
    throw badField('month', 'a month starts a time order: sort=newest or sort=oldest');
  const source = q.source ? await findSourceByName(db, q.source) : undefined;
  if (q.source && !source) throw badField('source', `there is no source named "${q.source}"`);
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
  let mediaTypes: MediaType[] | undefined = q.type ? [q.type] : undefined;
  // As in `archivist assets --missing`: steps process images and videos; other files never "miss" one.
  if (q.missing)
    mediaTypes = (mediaTypes ?? ['image', 'video']).filter((t) => t === 'image' || t === 'video');
  return {
    source: source ? { id: source.id, name: source.name } : undefined,
    mediaTypes,
    pathGlob: q.path,
    missingStep: q.missing,
    failedInRun: q.failedIn ? (await findRun(db, q.failedIn)).id : undefined,
    has: q.has,
    lacks: q.lacks,
    takenFrom: q.takenFrom,
    takenTo: q.takenTo,
    camera: q.camera
      ? { name: q.camera, match: (await isKnownCamera(db, q.camera)) ? 'exact' : 'contains' }
      : undefined,
    duplicates: q.duplicates,
    foldPairs: q.foldPairs,
    relatives: q.relatives,
  };
}

function factsOfRow(row: AssetFactsRow | undefined): CaptureFacts | undefined {
  if (!row || row.metadata_artifact_id === null) return undefined;
  return {
    takenAt: row.taken_at,
    takenAtSource: row.taken_at_source,
    takenAtLocal: row.taken_at_local,
    timeZone: row.time_zone,
    timeZoneSource: row.time_zone_source,
    camera: row.camera,
    durationSec: row.duration_sec,
  };
}

/** One page of a listing: its asset ids in order, and the cursor of the next page. */
async function pageOf(
  ctx: ApiContext,
  q: AssetsQuery,
  filters: ListingFilters,
): Promise<{ ids: string[]; nextCursor: string | null }> {
  const db = ctx.home.db;
  if (q.sort === 'path') {
    const page = await pathPage(db, filters, {
      limit: q.limit,
      after: q.cursor !== undefined ? decodePathCursor(q.cursor) : undefined,
      offset: q.offset,
    });
    return { ids: page.rows.map((r) => r.id), nextCursor: page.next && pathCursor(page.next) };
  }
  const page = await timePage(db, filters, {
    sort: q.sort,
    limit: q.limit,
    after: q.cursor !== undefined ? decodeTimeCursor(q.cursor) : undefined,
    month: q.month,
    offset: q.offset,
  });
  return { ids: page.rows.map((r) => r.id), nextCursor: page.next && timeCursor(page.next) };
}

export function registerAssetRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const db = ctx.home.db;

  /** A page of assets with the total that matches: `{ total, items, nextCursor }`. */
  app.get('/api/assets', async (request) => {
    const q = parseInput(AssetsQuery, request.query);
    const filters = await filtersOf(ctx, q);
    const [{ ids, nextCursor }, total] = await Promise.all([
      pageOf(ctx, q, filters),
      catalogVersion(db).then((version) => {
        const inline = () => countListed(db, filters);
        return ctx.totals.get(
          `${version}|${JSON.stringify(filters)}`,
          inline,
          ctx.counts ? () => ctx.counts!.count(filters, inline) : inline,
        );
      }),
    ]);
    const [assets, thumbnails, failures, facts, relatives] = await Promise.all([
      assetsByIds(db, ids),
      artifactOfKindFor(db, ids, 'thumbnail'),
      latestFailures(db, ids),
      factsOfAssets(db, ids),
      relationsOfAssets(db, ids),
    ]);
    const items: AssetListItem[] = assets.map((asset) => {
      const row = facts.get(asset.id);
      const captured = factsOfRow(row);
      return {
        ...toAssetJson(asset),
        thumbnail: thumbnails.get(asset.id) ?? null,
        time: listingTime(captured, row ? Number(row.file_mtime_ms) : undefined),
        durationSec: captured?.durationSec ?? null,
        failure: failures.get(asset.id) ?? null,
        relatives: relatives.get(asset.id) ?? [],
      };
    });
    return {
      total,
      offset: q.offset ?? 0,
      limit: q.limit,
      nextCursor,
      items,
    };
  });

  /**
   * The month headers of a time-ordered listing (same query as /api/assets, without paging): each month
   * with how many assets it has and where it starts, for a grid's headers and its year list.
   */
  app.get('/api/assets/timeline', async (request) => {
    const q = parseInput(AssetsQuery, request.query);
    if (q.cursor !== undefined || q.offset !== undefined || q.month !== undefined)
      throw badField(
        q.cursor !== undefined ? 'cursor' : q.offset !== undefined ? 'offset' : 'month',
        'the timeline is of the whole listing',
      );
    const filters = await filtersOf(ctx, q);
    if (q.sort === 'path') return { total: await countListed(db, filters), sort: q.sort, groups: [] };
    const counts = await monthCounts(db, filters, q.sort);
    let offset = 0;
    const groups = counts.map((c) => {
      const group = { month: c.month, count: c.count, offset };
      offset += c.count;
      return group;
    });
    return { total: offset, sort: q.sort, groups };
  });

  /** What the filters can choose from. Cameras come from metadata artifacts (empty before a run made any). */
  app.get('/api/facets', async () => ({
    sources: (await listSources(db)).map((s) => s.name),
    types: ['image', 'video', 'sidecar', 'other'],
    steps: [...allStepNames()].sort(),
    artifactKinds: await artifactKinds(db),
    cameras: await knownCameras(db),
  }));
}
