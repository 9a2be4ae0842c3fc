import path from 'node:path';
import type { Db } from '../store/database.js';
import { arrivalsAfter, hasMissing, missingLocationsOf, recordMoves } from '../store/locations-repository.js';

/**
 * After a walk: a location that went missing (in this scan or before) whose bytes arrived at a new path in
 * this scan moved there, in any folder. Read a page of arrivals at a time and, per page, the missing
 * locations of the same assets (locations_asset_source_path): memory holds a page, not the catalog.
 */
export async function reconcileMoves(
  db: Db,
  input: {
    sourceId: number;
    scanId: number;
    /** Locations with a higher id were inserted by this scan. */
    afterId: number;
    scanStartedAt: string;
    pageSize: number;
    /** A missing location under a folder that could not be read is unknown, not gone: never a move. */
    isUnreadable: (rel: string) => boolean;
  },
): Promise<{ moved: number; newlyMissingMoved: number }> {
  let moved = 0;
  let newlyMissingMoved = 0;
  if (!(await hasMissing(db, input.sourceId))) return { moved, newlyMissingMoved };
  let after = input.afterId;
  for (;;) {
    const arrivals = await arrivalsAfter(db, input.sourceId, input.scanId, after, input.pageSize);
    if (arrivals.length === 0) break;
    after = arrivals.at(-1)!.id;
    const byAsset = new Map<string, { id: number; path: string }[]>();
    for (const row of arrivals) byAsset.set(row.asset_id, [...(byAsset.get(row.asset_id) ?? []), row]);
    const missing = await missingLocationsOf(db, input.sourceId, [...byAsset.keys()], input.scanStartedAt);
    const moves: { fromId: number; toId: number; firstSeenAt: string }[] = [];
    for (const row of missing) {
      if (input.isUnreadable(row.path)) continue;
      const candidates = byAsset.get(row.asset_id);
      if (!candidates || candidates.length === 0) continue;
      // Same file name first: of two copies that moved, each pairs with its own.
      const sameName = candidates.findIndex(
        (c) => path.posix.basename(c.path) === path.posix.basename(row.path),
      );
      const [to] = candidates.splice(sameName >= 0 ? sameName : 0, 1);
      moves.push({ fromId: row.id, toId: to!.id, firstSeenAt: row.first_seen_at });
      moved++;
      if (row.newly === 1) newlyMissingMoved++;
    }
    await recordMoves(db, moves);
  }
  return { moved, newlyMissingMoved };
}
