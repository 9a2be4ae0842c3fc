import path from 'node:path';
import type { Db } from '../store/database.js';
import type { SidecarKind } from '../store/schema.js';
import {
  countSidecarLinks,
  dropLinksOfAbsentSidecars,
  mediaAtPaths,
  mediaWithPrefix,
  replaceSidecarLinks,
  sidecarCandidates,
} from '../store/sidecars-repository.js';
import { matchPrefix, sidecarPlan } from './sidecar-names.js';

/**
 * Links every sidecar of a source to its media file (issue 15), after the catalog has reconciled the
 * source: run once per scan, a batch of sidecars at a time, so memory stays bounded by the batch, not by
 * the archive. Only names are compared (sidecar-names.ts); no file is opened here. The metadata step
 * reads the linked sidecars, and their hashes become inputs of its items.
 */

const BATCH = 200;

export interface SidecarLinkSummary {
  /** Sidecars now linked to a media file. */
  linked: number;
  /** Files named like a sidecar with no media file of that name beside them; null when not relinked. */
  unmatched: number | null;
  /** False when the scan changed no file name, so every link stood as it was and nothing was redone. */
  relinked: boolean;
}

/**
 * `namesChanged`: the scan found a new, moved, missing or returning file. Links depend on names only (an
 * edited sidecar keeps its location, and its new hash is read through the link), so a scan that changed
 * none keeps them as they are: an unchanged re-scan costs one count, not a pass over every sidecar.
 */
export async function linkSidecars(
  db: Db,
  sourceId: number,
  options: { namesChanged: boolean } = { namesChanged: true },
): Promise<SidecarLinkSummary> {
  if (!options.namesChanged) {
    const linked = await countSidecarLinks(db, sourceId);
    // A source never linked (a home from before migration 0012) is linked once, changed or not.
    if (linked > 0) return { linked, unmatched: null, relinked: false };
  }
  const summary = { linked: 0, unmatched: 0, relinked: true };
  await dropLinksOfAbsentSidecars(db, sourceId);
  let afterId = 0;
  for (;;) {
    const batch = await sidecarCandidates(db, sourceId, afterId, BATCH);
    if (batch.length === 0) break;
    afterId = batch.at(-1)!.id;
    const plans = batch.flatMap((sidecar) => {
      const dir = path.posix.dirname(sidecar.path);
      const join = (name: string) => (dir === '.' ? name : `${dir}/${name}`);
      const plan = sidecarPlan(path.posix.basename(sidecar.path));
      return plan ? [{ sidecar, plan, join }] : [];
    });
    const media = await mediaAtPaths(db, sourceId, [
      ...new Set(plans.flatMap(({ plan, join }) => plan.exact.map(join))),
    ]);
    const byPath = new Map(media.map((m) => [m.path, m]));
    const links: { sidecarLocationId: number; mediaLocationId: number; kind: SidecarKind }[] = [];
    for (const { sidecar, plan, join } of plans) {
      let target = plan.exact.map((name) => byPath.get(join(name))).find((m) => m !== undefined);
      if (!target && plan.prefix !== null) {
        const found = await mediaWithPrefix(db, sourceId, join(plan.prefix));
        const name = matchPrefix(
          plan.prefix,
          found
            .filter((m) => path.posix.dirname(m.path) === path.posix.dirname(sidecar.path))
            .map((m) => path.posix.basename(m.path)),
        );
        target = name ? found.find((m) => m.path === join(name)) : undefined;
      }
      if (target) links.push({ sidecarLocationId: sidecar.id, mediaLocationId: target.id, kind: plan.kind });
      else summary.unmatched++;
    }
    await replaceSidecarLinks(
      db,
      sourceId,
      batch.map((b) => b.id),
      links,
    );
    summary.linked += links.length;
  }
  return summary;
}
