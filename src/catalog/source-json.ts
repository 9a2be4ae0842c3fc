import type { Db } from '../store/database.js';
import { lastFinishedScans } from '../store/scans-repository.js';
import { listSources, sourceLocationCounts } from '../store/sources-repository.js';

/** `source list --json` and `GET /api/sources`: one builder, so the two can never drift apart. */
export async function sourceListJson(db: Db) {
  const sources = await listSources(db);
  const counts = await sourceLocationCounts(db);
  const scanned = await lastFinishedScans(db);
  return sources.map((s) => ({
    name: s.name,
    path: s.path,
    createdAt: s.created_at,
    files: counts.get(s.id)?.present ?? 0,
    missing: counts.get(s.id)?.missing ?? 0,
    lastCatalogedAt: scanned.get(s.id) ?? null,
  }));
}
