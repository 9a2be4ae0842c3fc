import type { Db } from '../store/database.js';
import {
  dropRelationsOfEmptyFolders,
  foldersOfSource,
  membersOfFolders,
  membersOfGroups,
  pairingKeysOfAssets,
  presentLocationsOf,
  replaceRelations,
  writePairingKeys,
  type MemberRow,
  type RelationRow,
} from '../store/relations-repository.js';
import type { CaptureFacts } from './capture-facts.js';
import {
  groupKeyOf,
  isSiblingName,
  pairingKeysOf,
  relationBetween,
  type GroupMember,
  type PairingKeys,
} from './relation-rules.js';

/**
 * The relation index (table asset_relations, migration 0013): the pairs of relation-rules.ts for the
 * whole catalog, so the grid folds a Live Photo or a RAW+JPEG pair into one tile and filters relatives
 * with an indexed condition instead of working them out per asset. A pair depends on the files of one
 * folder group (`dir/stem`) and on their metadata, so it is kept in step at both ends:
 * - the catalog recomputes every group of a source after a scan that changed any file (new, moved,
 *   changed, missing, back), folder by folder, in bounded memory;
 * - a metadata result that changes an asset's pairing keys recomputes that asset's groups, in the
 *   transaction that records the result, so no listing sees the one without the other.
 * `asset --json` and the API still work a relation out when asked (related-assets.ts) by the same rules;
 * test/e2e/relations-index.test.ts checks that both agree on every asset.
 */

const FOLDERS_PER_BATCH = 200;

/** The rows of one group: what each member's relatives are, each (asset, relative, relation) once. */
function rowsOfGroup(
  sourceId: number,
  key: string,
  group: readonly MemberRow[],
  keys: ReadonlyMap<string, PairingKeys>,
): RelationRow[] {
  const all: GroupMember[] = group.map((m) => ({
    assetId: m.asset_id,
    path: m.path,
    mediaType: m.media_type,
    mime: m.mime,
    keys: keys.get(m.asset_id) ?? null,
  }));
  const rows: RelationRow[] = [];
  const seen = new Set<string>();
  for (const [i, self] of all.entries()) {
    for (const other of all) {
      // The asset page finds a relative only under a media extension in lower or upper case.
      if (other.assetId === self.assetId || !isSiblingName(other.path)) continue;
      const found = relationBetween(self, other);
      const id = `${self.assetId}|${other.assetId}|${found?.relation}`;
      if (!found || seen.has(id)) continue;
      seen.add(id);
      rows.push({
        asset_id: self.assetId,
        related_asset_id: other.assetId,
        relation: found.relation,
        by: found.by,
        source_id: sourceId,
        dir: group[i]!.dir,
        group_key: key,
        path: other.path,
      });
    }
  }
  return rows;
}

function groupsOf(files: readonly MemberRow[]): Map<string, MemberRow[]> {
  const groups = new Map<string, MemberRow[]>();
  for (const file of files) {
    const key = groupKeyOf(file.path);
    const group = groups.get(key);
    if (group) group.push(file);
    else groups.set(key, [file]);
  }
  return groups;
}

/**
 * Every group of a source anew, a batch of folders at a time (one read of their files, one transaction
 * replacing their rows; `inTransaction`: the caller's, as a migration's), so memory and statements grow
 * with the batch, not with the source. Returns how many relation rows the source has now.
 */
export async function indexRelationsOfSource(
  db: Db,
  sourceId: number,
  options: { inTransaction?: boolean } = {},
): Promise<number> {
  let total = 0;
  let after: string | null = null;
  for (;;) {
    const dirs = await foldersOfSource(db, sourceId, after, FOLDERS_PER_BATCH);
    if (dirs.length === 0) break;
    after = dirs.at(-1)!;
    const files = (await membersOfFolders(db, sourceId, dirs)).sort(byPath);
    const groups = [...groupsOf(files)].filter(([, group]) => new Set(group.map((f) => f.asset_id)).size > 1);
    const keys = await pairingKeysOfAssets(
      db,
      groups.flatMap(([, group]) => group.map((f) => f.asset_id)),
    );
    const rows = groups.flatMap(([key, group]) => rowsOfGroup(sourceId, key, group, keys));
    if (options.inTransaction) await replaceRelations(db, sourceId, { dirs }, rows);
    else await db.transaction().execute((trx) => replaceRelations(trx, sourceId, { dirs }, rows));
    total += rows.length;
  }
  await dropRelationsOfEmptyFolders(db, sourceId);
  return total;
}

/**
 * Metadata artifacts were recorded (inside the completion's transaction, each asset at most once): their
 * pairing keys are written by the listings' rule, and the groups of the present locations of the assets
 * whose keys changed are recomputed, each group once. A reused result with the same keys costs one read
 * for the whole batch. Every key is written before any group is read, so a pair whose two halves are in
 * one batch (a Live Photo's picture and video) comes out as it would one at a time.
 */
export async function indexRelationsAfterMetadata(
  trx: Db,
  results: readonly { assetId: string; artifactId: string; facts: CaptureFacts; current: boolean }[],
): Promise<void> {
  const changed = await writePairingKeys(
    trx,
    results.map((r) => ({ ...r, keys: pairingKeysOf(r.facts) })),
  );
  if (changed.size === 0) return;
  const keysBySource = new Map<number, Set<string>>();
  for (const location of await presentLocationsOf(trx, [...changed])) {
    const keys = keysBySource.get(location.source_id) ?? new Set<string>();
    keysBySource.set(location.source_id, keys.add(groupKeyOf(location.path)));
  }
  const groups = new Map<number, Map<string, MemberRow[]>>();
  for (const [sourceId, keys] of keysBySource) {
    const ofSource = new Map([...keys].map((key) => [key, [] as MemberRow[]]));
    const files = (await membersOfGroups(trx, sourceId, [...keys])).sort(byPath);
    // The prefix `key.` also finds `key.x.jpg`, a group of its own (asked for or not).
    for (const file of files) ofSource.get(groupKeyOf(file.path))?.push(file);
    groups.set(sourceId, ofSource);
  }
  // An asset alone in its group has no relatives whatever its keys say (most photos): no read for them.
  const paired = [...groups.values()].flatMap((ofSource) =>
    [...ofSource.values()].filter((group) => new Set(group.map((f) => f.asset_id)).size > 1),
  );
  const keys =
    paired.length > 0
      ? await pairingKeysOfAssets(
          trx,
          paired.flatMap((group) => group.map((f) => f.asset_id)),
        )
      : new Map<string, PairingKeys>();
  for (const [sourceId, ofSource] of groups) {
    await replaceRelations(
      trx,
      sourceId,
      { groupKeys: [...ofSource.keys()] },
      [...ofSource].flatMap(([key, group]) => rowsOfGroup(sourceId, key, group, keys)),
    );
  }
}

/** Files in path order (binary, as the databases compare): a group's members in the order rows are made. */
function byPath(a: MemberRow, b: MemberRow): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}
