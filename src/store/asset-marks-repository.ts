import { sql, type RawBuilder } from 'kysely';
import { chunksOf } from './chunks.js';
import type { Db } from './database.js';
import { dialectOf } from './dialect.js';

/**
 * Writes of asset_marks (migration 0014): what an asset has that a listing filters by, with a copy of its
 * facts' `listed`, `sort_ms` and `month`, so a filtered page, its total and its date headers are read from
 * the marks' indexes alone. Every write here runs inside the caller's transaction, the one that changes
 * what the mark says: the catalog's (locations: `source:<id>`, `dup`), an artifact commit or gc
 * (`kind:<kind>`), an item's completion (`step:<step>`). Listings read them in listing-repository.ts.
 */

export const sourceMark = (sourceId: number) => `source:${sourceId}`;
export const DUPLICATE_MARK = 'dup';
export const kindMark = (kind: string) => `kind:${kind}`;
export const stepMark = (step: string) => `step:${step}`;

/** Ids per statement: one bound parameter on either database (inValues), so only memory bounds it. */
const IDS_PER_STATEMENT = 2_000;

const chunks = <T>(values: readonly T[]) => chunksOf(values, IDS_PER_STATEMENT);

/** Marks from a select of (asset_id, mark), each with its asset's facts; an existing mark is kept. */
async function insertMarks(trx: Db, marks: RawBuilder<unknown>): Promise<void> {
  await sql`insert into asset_marks (asset_id, mark, listed, sort_ms, month)
    select m.asset_id, m.mark, f.listed, f.sort_ms, f.month
    from (${marks}) as m inner join asset_facts f on f.asset_id = m.asset_id
    on conflict (asset_id, mark) do nothing`.execute(trx);
}

/**
 * The location marks of these assets anew, from their locations: a source mark per source they have a
 * location in (present or missing, as the source filter counts), and `dup` while more than one location
 * is present. Called after the catalog changed their locations and facts, in the same transaction.
 */
export async function refreshLocationMarks(trx: Db, assetIds: readonly string[]): Promise<void> {
  const d = dialectOf(trx);
  for (const ids of chunks([...new Set(assetIds)])) {
    await sql`delete from asset_marks where ${d.inValues(sql.ref('asset_id'), ids)}
      and (mark = ${DUPLICATE_MARK} or mark like 'source:%')`.execute(trx);
    await insertMarks(
      trx,
      sql`select distinct asset_id, 'source:' || cast(source_id as text) as mark from locations
        where ${d.inValues(sql.ref('asset_id'), ids)}`,
    );
    await insertMarks(
      trx,
      sql`select asset_id, ${DUPLICATE_MARK} as mark from locations
        where ${d.inValues(sql.ref('asset_id'), ids)} and status = 'present'
        group by asset_id having count(*) > 1`,
    );
  }
}

/** Location marks of the assets at these locations (after their status changed: missing or present). */
export async function refreshLocationMarksAt(trx: Db, locationIds: readonly number[]): Promise<void> {
  for (let i = 0; i < locationIds.length; i += 500) {
    const rows = await trx
      .selectFrom('locations')
      .select('asset_id')
      .distinct()
      .where('id', 'in', locationIds.slice(i, i + 500))
      .execute();
    await refreshLocationMarks(
      trx,
      rows.map((r) => r.asset_id),
    );
  }
}

/**
 * The facts' copies (listed, sort time, month) on every mark of these assets, after their facts row was
 * written in this transaction: one statement per chunk, an index probe per asset when it has none.
 */
export async function syncMarksWithFacts(trx: Db, assetIds: readonly string[]): Promise<void> {
  const d = dialectOf(trx);
  for (const ids of chunks([...new Set(assetIds)])) {
    await sql`update asset_marks set (listed, sort_ms, month) = (
        select f.listed, f.sort_ms, f.month from asset_facts f where f.asset_id = asset_marks.asset_id)
      where ${d.inValues(sql.ref('asset_id'), ids)}
        and exists (select 1 from asset_facts f where f.asset_id = asset_marks.asset_id)`.execute(trx);
  }
}

/** Gives each asset its mark (an artifact kind or a done step), in the transaction that earned it. */
export async function addMarks(trx: Db, marks: readonly { assetId: string; mark: string }[]): Promise<void> {
  const unique = new Map(marks.map((m) => [`${m.assetId}\n${m.mark}`, m]));
  const rows = [...unique.values()];
  for (let i = 0; i < rows.length; i += 400) {
    const values = rows
      .slice(i, i + 400)
      .map((m) => sql`(cast(${m.assetId} as text), cast(${m.mark} as text))`);
    await insertMarks(
      trx,
      sql`select column1 as asset_id, column2 as mark from (values ${sql.join(values)}) as v`,
    );
  }
}

/**
 * Marks of assets this transaction created, with the place their new facts row gave them: plain rows
 * (nothing to join or replace), which is what a first pass writes for nearly every file.
 */
export async function insertFreshMarks(
  trx: Db,
  marks: readonly { assetId: string; mark: string; sortMs: number; month: string }[],
): Promise<void> {
  for (let i = 0; i < marks.length; i += 800) {
    await trx
      .insertInto('asset_marks')
      .values(
        marks.slice(i, i + 800).map((m) => ({
          asset_id: m.assetId,
          mark: m.mark,
          listed: 1,
          sort_ms: m.sortMs,
          month: m.month,
        })),
      )
      .execute();
  }
}

/** Kind marks of these assets that no artifact backs any more (after artifact records were deleted). */
export async function dropStaleKindMarks(trx: Db, assetIds: readonly string[]): Promise<void> {
  const d = dialectOf(trx);
  for (const ids of chunks([...new Set(assetIds)])) {
    await sql`delete from asset_marks where ${d.inValues(sql.ref('asset_id'), ids)}
      and mark like 'kind:%'
      and not exists (select 1 from artifacts a
        where a.asset_id = asset_marks.asset_id and 'kind:' || a.kind = asset_marks.mark)`.execute(trx);
  }
}
