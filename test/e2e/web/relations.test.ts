import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveManifest, type ManifestEntry } from '../../helpers/archive-manifest.js';
import { runCli, tempDir } from '../../helpers/cli.js';
import { CORE2_FILES as F, makeCore2Archive } from '../../helpers/core2-archive.js';
import { queryDatabase } from '../../helpers/db-query.js';
import { CHROMIUM, SCREENSHOTS, startServe, until } from './harness.js';

/**
 * The relation index (issue 15: files that belong together, indexed in asset_relations, migration 0013)
 * and what the grid does with it (issue 16: a pair is one tile with a badge, relatives reachable from the
 * grid's filters), through the built CLI, the real server and Debian's Chromium, on the archive of
 * core2-archive.ts (two Live Photos, a RAW+JPEG pair, a motion photo). The index must say exactly what
 * `asset --json` works out per asset, after a run, after a file moves away and back, and after the
 * migration fills it in on a home made before it.
 */

interface Related {
  assetId: string;
  relation: string;
  path?: string;
  by?: string;
}
interface ListItem {
  id: string;
  locations: { path: string }[];
  relatives: { assetId: string; relation: string }[];
}
interface Listing {
  total: number;
  items: ListItem[];
}
interface IndexRow {
  asset_id: string;
  related_asset_id: string;
  relation: string;
  by: string;
  path: string;
}

let root: string;
let cleanup: () => void;
let archive: string;
let home: string;
let manifest: ManifestEntry[];
const ids = new Map<string, string>();

async function json<T>(args: string[]): Promise<T> {
  const result = await runCli([...args, '--json'], { home });
  expect(result.code, `archivist ${args.join(' ')}\n${result.stderr}`).toBe(0);
  return JSON.parse(result.stdout) as T;
}
const database = () => ({ kind: 'sqlite' as const, file: path.join(home, 'archivist.db') });
const indexRows = (): IndexRow[] =>
  queryDatabase<IndexRow>(
    database(),
    'select asset_id, related_asset_id, relation, by, path from asset_relations order by asset_id, relation, related_asset_id',
  );

/** For every picture and video: what `asset --json` works out, and what the index holds for it. */
async function bothViews(): Promise<{ computed: Related[]; indexed: Related[] }> {
  const assets = await json<{ id: string; mediaType: string }[]>(['assets']);
  const computed: Related[] = [];
  for (const a of assets.filter((x) => x.mediaType === 'image' || x.mediaType === 'video')) {
    const detail = await json<{ related: Related[] }>(['asset', a.id]);
    for (const r of detail.related.filter((x) => x.relation !== 'motion-video-of'))
      computed.push({ ...r, assetId: `${a.id}>${r.assetId}` });
  }
  const indexed = indexRows().map((r) => ({
    assetId: `${r.asset_id}>${r.related_asset_id}`,
    relation: r.relation,
    path: r.path,
    by: r.by,
  }));
  const order = (list: Related[]) =>
    list.sort((a, b) => `${a.assetId}${a.relation}`.localeCompare(`${b.assetId}${b.relation}`));
  return { computed: order(computed), indexed: order(indexed) };
}

beforeAll(async () => {
  ({ dir: root, cleanup } = tempDir('archivist-relations-'));
  archive = path.join(root, 'archive');
  home = path.join(root, 'home');
  fs.mkdirSync(archive);
  await makeCore2Archive(archive);
  manifest = archiveManifest(archive);
  await json(['init']);
  await json(['source', 'add', 'a', archive]);
}, 120_000);

afterAll(() => cleanup?.());

describe('the relation index and the grid’s pairs', () => {
  it('holds nothing before metadata exists, and every relation asset --json shows after a core@2 run', async () => {
    await json(['catalog']);
    expect(indexRows()).toEqual([]);
    await json(['collection', 'create', 'all']);
    const run = await json<{ status: string; failures: unknown[] }>([
      'run',
      'start',
      'core@2',
      '--collection',
      'all',
      '--policy',
      'production',
      '--workers',
      '2',
    ]);
    expect(run.status).toBe('completed');
    expect(archiveManifest(archive)).toEqual(manifest);
    for (const rel of Object.values(F))
      ids.set(rel, (await json<{ id: string }>(['asset', path.join(archive, rel)])).id);

    const { computed, indexed } = await bothViews();
    // Two Live Photos and a RAW+JPEG pair, each both ways.
    expect(indexed).toHaveLength(6);
    expect(indexed).toEqual(computed);
    expect(indexed).toContainEqual({
      assetId: `${ids.get(F.liveStill)}>${ids.get(F.liveVideo)}`,
      relation: 'live-photo-video',
      path: F.liveVideo,
      by: 'content-identifier',
    });
    expect(indexed).toContainEqual({
      assetId: `${ids.get(F.rawJpeg)}>${ids.get(F.raw)}`,
      relation: 'raw-twin',
      path: F.raw,
      by: 'name-and-time',
    });
  }, 240_000);

  it('folds each pair into one listed tile and lists relatives on request (API)', async () => {
    const { child, url } = await startServe(home);
    try {
      const list = async (query: string) =>
        (await (await fetch(`${url}/api/assets?limit=1000&sort=newest${query}`)).json()) as Listing;
      const all = await list('');
      const folded = await list('&foldPairs=true');
      const hidden = [F.liveVideo, F.namedVideo, F.raw].map((rel) => ids.get(rel));
      expect(folded.total).toBe(all.total - 3);
      expect(folded.items.map((i) => i.id)).not.toEqual(expect.arrayContaining([hidden[0]]));
      for (const id of hidden) expect(folded.items.some((i) => i.id === id)).toBe(false);
      const still = folded.items.find((i) => i.id === ids.get(F.liveStill))!;
      expect(still.relatives).toEqual([{ assetId: ids.get(F.liveVideo), relation: 'live-photo-video' }]);

      const relatives = await list('&relatives=true');
      const expected = [
        F.liveStill,
        F.liveVideo,
        F.namedStill,
        F.namedVideo,
        F.raw,
        F.rawJpeg,
        F.motionPhoto,
      ];
      expect(relatives.items.map((i) => i.locations[0]!.path).sort()).toEqual([...expected].sort());
      const relativesFolded = await list('&relatives=true&foldPairs=true');
      expect(relativesFolded.items.map((i) => i.locations[0]!.path).sort()).toEqual(
        [F.liveStill, F.namedStill, F.rawJpeg, F.motionPhoto].sort(),
      );
      const motion = relatives.items.find((i) => i.id === ids.get(F.motionPhoto))!;
      expect(motion.relatives).toEqual([{ assetId: motion.id, relation: 'motion-video-of' }]);
    } finally {
      child.kill('SIGTERM');
      if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
    }
  }, 120_000);

  it('shows a pair as one tile with a badge by default, every file on request, and a relatives filter', async () => {
    const { child, url } = await startServe(home);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
    });
    try {
      const all = (await (await fetch(`${url}/api/assets?limit=1`)).json()) as Listing;
      const page = await browser.newPage({ baseURL: url, viewport: { width: 1280, height: 900 } });
      const tile = (rel: string) => page.locator(`.tile[data-asset-id="${ids.get(rel)}"]`);
      const count = () => page.getByTestId('asset-count').textContent();
      await page.goto('/');
      await until(async () => (await count()) === `${all.total - 3} assets`, 'the folded count');
      await tile(F.liveStill).waitFor();
      expect(await tile(F.liveStill).getByTestId('pair-badge').textContent()).toBe('LIVE');
      expect(await tile(F.rawJpeg).getByTestId('pair-badge').textContent()).toBe('RAW+JPEG');
      expect(await tile(F.motionPhoto).getByTestId('pair-badge').textContent()).toBe('MOTION');
      expect(await tile(F.liveVideo).count()).toBe(0);
      expect(await tile(F.raw).count()).toBe(0);
      // An unrelated picture has no pair badge.
      expect(await tile(F.zonelessJpeg).getByTestId('pair-badge').count()).toBe(0);
      fs.mkdirSync(SCREENSHOTS, { recursive: true });
      await page.screenshot({ path: path.join(SCREENSHOTS, 'grid-pairs.png') });

      await page.getByLabel('Every file of a pair').check();
      await until(async () => (await count()) === `${all.total} assets`, 'every file');
      await tile(F.liveVideo).waitFor();
      expect(await tile(F.liveVideo).getByTestId('pair-badge').textContent()).toBe('LIVE');
      expect(page.url()).toContain('allFiles=true');

      await page.getByLabel('Every file of a pair').uncheck();
      await page.getByLabel('Relatives only').check();
      await until(async () => (await count()) === '4 assets', 'the relatives, folded');
      expect(page.url()).toContain('relatives=true');
      expect(await tile(F.zonelessJpeg).count()).toBe(0);
    } finally {
      await browser.close();
      child.kill('SIGTERM');
      if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
    }
  }, 120_000);

  it('unpairs a Live Photo whose video moved to another folder, and pairs it again when it is back', async () => {
    const from = path.join(archive, F.namedVideo);
    const to = path.join(archive, 'elsewhere', path.basename(F.namedVideo));
    fs.mkdirSync(path.dirname(to));
    fs.renameSync(from, to);
    await json(['catalog']);
    let views = await bothViews();
    expect(views.indexed).toHaveLength(4);
    expect(views.indexed).toEqual(views.computed);
    expect(views.indexed.some((r) => r.assetId.startsWith(`${ids.get(F.namedStill)}>`))).toBe(false);

    fs.renameSync(to, from);
    fs.rmdirSync(path.dirname(to));
    await json(['catalog']);
    views = await bothViews();
    expect(views.indexed).toHaveLength(6);
    expect(views.indexed).toEqual(views.computed);
  }, 120_000);

  it('is filled in by migration 0013 on a home made before it', async () => {
    const before = indexRows();
    const db = new BetterSqlite3(database().file);
    try {
      // The later migrations go too: applied before 0013, Kysely would refuse the history as corrupted.
      db.exec(`drop table asset_relations; drop table pairing_keys;
        drop table asset_marks; drop index locations_path_asset;
        alter table runs drop column sandbox_retention_days;
        alter table run_workers drop column skipped; alter table run_workers drop column released;
        delete from kysely_migration
          where name in ('0013-asset-relations', '0014-asset-marks', '0015-run-settings',
            '0017-worker-skips-releases', '0019-listing-indexes-at-scale', '0020-work-items-upkeep')`);
    } finally {
      db.close();
    }
    await json(['assets']); // any command opens the home and migrates it
    expect(indexRows()).toEqual(before);
    expect(before).toHaveLength(6);
  }, 120_000);
});
