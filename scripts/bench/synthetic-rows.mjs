/**
 * Synthetic catalog rows for listings at scale (issue 17), written through Kysely so the same code fills
 * a SQLite or a PostgreSQL home: assets, their locations under YEAR/YYYY-MM-DD EVENT/ folders, their
 * asset_facts rows (80 % with a capture time and camera, as a metadata artifact would give, 20 % placed by
 * the file time), their asset_marks rows, and a finished run whose work items and thumbnails cover a share of them (1 % failed).
 * The files themselves do not exist: listings never read them.
 *
 *   insertSyntheticCatalog(db, { source, count, seed, factsRowOf })
 *
 * `factsRowOf` is the store's own (src/store/asset-facts-repository.ts or its dist/ build), so the rows are
 * exactly what the catalog and the metadata commit write.
 */
import { createHash } from 'node:crypto';

const CAMERAS = [
  ['Canon', 'Canon EOS 5D Mark IV'],
  ['NIKON CORPORATION', 'NIKON D750'],
  ['SONY', 'ILCE-7M3'],
  ['Apple', 'iPhone 12'],
  ['Google', 'Pixel 7'],
  ['samsung', 'SM-G991B'],
];
const BATCH = 250;

function random(seed) {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
}

const pad = (n, width = 2) => String(n).padStart(width, '0');

/**
 * @param {import('kysely').Kysely<any>} db
 * @param {{ source: { id: number }, count: number, seed?: number, factsRowOf: Function,
 *   run?: { share: number }, onProgress?: (done: number) => void }} o
 * @returns {Promise<{ runId: string | null }>}
 */
export async function insertSyntheticCatalog(db, o) {
  const rnd = random(o.seed ?? 1);
  const now = new Date().toISOString();
  const scan = await db
    .insertInto('scans')
    .values({ source_id: o.source.id, started_at: now, finished_at: now, summary_json: '{}' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const runShare = o.run?.share ?? 0;
  const runId = runShare > 0 ? `synthetic-${o.seed ?? 1}-${Date.now().toString(36)}` : null;
  if (runId) {
    await db
      .insertInto('runs')
      .values({
        id: runId,
        pipeline_name: 'synthetic',
        pipeline_version: 1,
        params_json: '{}',
        tool_versions_json: '{}',
        collection_name: null,
        scope_json: '{}',
        policy: 'production',
        min_free_bytes: 0,
        min_free_spec: '0',
        workers: 1,
        max_attempts: 1,
        item_timeout_ms: 60000,
        force: 0,
        seed: 1,
        status: 'completed',
        host: 'synthetic',
        created_at: now,
        started_at: now,
        finished_at: now,
      })
      .execute();
  }
  for (let start = 0; start < o.count; start += BATCH) {
    const assets = [];
    const locations = [];
    const facts = [];
    const items = [];
    const artifacts = [];
    const lineage = [];
    const marks = [];
    for (let i = start; i < Math.min(o.count, start + BATCH); i++) {
      const id = createHash('sha256')
        .update(`synthetic ${o.seed ?? 1} ${i}`)
        .digest('hex');
      const roll = rnd();
      const mediaType = roll < 0.88 ? 'image' : roll < 0.98 ? 'video' : 'sidecar';
      const year = 2000 + (i % 25);
      const month = 1 + Math.floor(rnd() * 12);
      const day = 1 + Math.floor(rnd() * 28);
      const local = `${year}-${pad(month)}-${pad(day)}T${pad(Math.floor(rnd() * 24))}:${pad(Math.floor(rnd() * 60))}:00`;
      const mtimeMs = Date.parse(`${local}Z`) + 3_600_000;
      const folder = `${year}/${year}-${pad(month)}-${pad(day)} event ${i % 7}`;
      const ext = mediaType === 'video' ? 'MP4' : mediaType === 'sidecar' ? 'XMP' : 'JPG';
      const path = `${folder}/IMG_${pad(i, 7)}.${ext}`;
      const size = 1000 + Math.floor(rnd() * 5e6);
      assets.push({ id, size, media_type: mediaType, mime: null, first_seen_at: now });
      const mtimeNs = String(BigInt(mtimeMs) * 1_000_000n);
      locations.push({
        source_id: o.source.id,
        path,
        dir: folder,
        asset_id: id,
        size,
        mtime_ns: mtimeNs,
        ctime_ns: mtimeNs,
        inode: String(i + 1),
        status: 'present',
        first_seen_at: now,
        first_scan_id: scan.id,
        last_seen_at: now,
        missing_since: null,
      });
      const [make, model] = CAMERAS[i % CAMERAS.length];
      const dated = mediaType !== 'sidecar' && rnd() < 0.8;
      facts.push(
        o.factsRowOf({
          assetId: id,
          listed: true,
          mediaType,
          fileMtimeMs: mtimeMs,
          facts: {
            takenAt: dated ? `${local}+01:00` : null,
            takenAtSource: dated ? 'DateTimeOriginal' : null,
            takenAtLocal: dated && i % 2 === 0 ? local : null,
            timeZone: dated ? '+01:00' : null,
            timeZoneSource: dated ? 'OffsetTimeOriginal' : null,
            camera: dated ? (model.startsWith(make) ? model : `${make} ${model}`) : null,
            durationSec: mediaType === 'video' ? 1 + Math.floor(rnd() * 60) : null,
          },
          metadataArtifactId: null,
        }),
      );
      const fact = facts.at(-1);
      const mark = (name) =>
        marks.push({ asset_id: id, mark: name, listed: 1, sort_ms: fact.sort_ms, month: fact.month });
      mark(`source:${o.source.id}`);
      if (runId && mediaType !== 'sidecar' && rnd() < runShare) {
        const failed = rnd() < 0.02;
        items.push({
          run_id: runId,
          asset_id: id,
          step: 'thumbnail',
          step_index: 0,
          order_key: i,
          status: failed ? 'failed' : 'done',
          reason: failed ? 'decode-error' : null,
          message: failed ? 'synthetic failure' : null,
          finished_at: now,
        });
        if (!failed) {
          mark('step:thumbnail');
          mark('kind:thumbnail');
          const artifactId = `syn-${id.slice(0, 24)}`;
          artifacts.push({
            id: artifactId,
            kind: 'thumbnail',
            step: 'thumbnail',
            asset_id: id,
            run_id: runId,
            sha256: id,
            size: 4000,
            mime: 'image/webp',
            path: `${id.slice(0, 2)}/${id.slice(2, 4)}/${id}.webp`,
            cache_key: id,
            policy: 'production',
            is_current: 1,
            expires_at: null,
            created_at: now,
          });
          lineage.push({
            artifact_id: artifactId,
            run_id: runId,
            pipeline: 'synthetic@1',
            step: 'thumbnail',
            tool_name: 'synthetic',
            tool_version: '1',
            decoder: null,
            params_json: '{}',
            inputs_json: '[]',
            worker: 'synthetic',
            host: 'synthetic',
            duration_ms: 1,
            created_at: now,
          });
        }
      }
    }
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('assets').values(assets).execute();
      await trx.insertInto('locations').values(locations).execute();
      await trx.insertInto('asset_facts').values(facts).execute();
      if (lineage.length > 0) await trx.insertInto('lineage').values(lineage).execute();
      if (artifacts.length > 0) await trx.insertInto('artifacts').values(artifacts).execute();
      if (items.length > 0) await trx.insertInto('work_items').values(items).execute();
      // The listings' marks (migration 0014), as the catalog and the completions write them.
      for (let m = 0; m < marks.length; m += 400)
        await trx
          .insertInto('asset_marks')
          .values(marks.slice(m, m + 400))
          .execute();
    });
    o.onProgress?.(Math.min(o.count, start + BATCH));
  }
  return { runId };
}
