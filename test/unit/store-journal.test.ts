import fs from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, expect, it } from 'vitest';
import { absoluteArtifactPath, storeArtifactFile } from '../../src/artifacts/artifact-store.js';
import { journalPath, sweepJournal } from '../../src/artifacts/store-journal.js';
import { initHome, type Home } from '../../src/home/home.js';
import { claimWorkItem } from '../../src/runs/claim-work-item.js';
import { PendingCompletions } from '../../src/runs/pending-completions.js';
import { newArtifactId } from '../../src/runs/run-id.js';
import { transitionRun } from '../../src/store/runs-repository.js';
import type { WorkItemRow } from '../../src/store/schema.js';
import { getWorkItem } from '../../src/store/work-items-repository.js';
import type { DoneResult } from '../../src/store/work-items-repository.js';
import { tempDir } from '../helpers/cli.js';
import { describeEachDialect, type TestDialect } from '../helpers/postgres.js';
import { createUnitRun, insertImageAssets } from '../helpers/unit-run.js';

/**
 * The orphan rule of src/artifacts/store-journal.ts (issue 14, drill E's flake): a file goes into the
 * journal before it goes into the store; a sweep deletes journaled files that no row names; a completion
 * commits only for a file still in the store. So a sweep can never leave a row pointing at nothing, even
 * when it deletes a file another worker has just stored with the same content address.
 */

const homes: Home[] = [];
const cleanups: (() => void)[] = [];
afterEach(async () => {
  while (homes.length > 0) await homes.pop()!.close();
  while (cleanups.length > 0) cleanups.pop()!();
});

const silent = pino({ level: 'silent' });

async function setup(dialect: TestDialect, assets: number) {
  const { dir, cleanup } = tempDir('archivist-journal-');
  cleanups.push(cleanup);
  const { home } = await initHome(path.join(dir, 'home'), { databaseUrl: await dialect.newDatabase() });
  homes.push(home);
  const ids = await insertImageAssets(home.db, `journal ${dir}`, assets);
  const runId = await createUnitRun(home.db, ids, { workers: 1 });
  expect(await transitionRun(home.db, runId, ['queued'], 'running')).toBe(true);
  const claim = async (owner: string): Promise<WorkItemRow[]> => {
    const result = await claimWorkItem(home.db, { runId, owner, leaseMs: 60_000, needs: {}, limit: 10 });
    if (result.kind !== 'claimed') throw new Error(`expected a claim, got ${JSON.stringify(result)}`);
    return result.items;
  };
  /** Stores `text` as the item's artifact, the way a worker does, and returns its done result. */
  const store = async (item: WorkItemRow, text: string, worker: string): Promise<DoneResult> => {
    const stored = await storeArtifactFile(home.layout, {
      bytes: Buffer.from(text),
      mime: 'text/plain',
      extension: 'txt',
    });
    return {
      durationMs: 1,
      artifact: {
        created: {
          id: newArtifactId(),
          kind: 'a',
          step: 'a',
          assetId: item.asset_id,
          runId,
          sha256: stored.sha256,
          size: stored.size,
          mime: 'text/plain',
          path: stored.path,
          cacheKey: `key-${item.id}`,
          policy: 'production',
          expiresAt: null,
        },
        lineage: {
          runId,
          pipeline: { name: 'unit', version: 1 },
          step: 'a',
          tool: { name: 'unit-tool', version: '1' },
          decoder: null,
          params: {},
          inputs: [{ assetId: item.asset_id, sha256: item.asset_id }],
          worker,
          host: 'test',
          durationMs: 1,
          createdAt: new Date().toISOString(),
        },
      },
      makeCurrent: { assetId: item.asset_id, kind: 'a' },
    };
  };
  return { home, runId, claim, store };
}

describeEachDialect('the store journal', (dialect) => {
  it('names a file before it is in the store', async () => {
    const t = await setup(dialect, 1);
    const [item] = await t.claim('w');
    const done = await t.store(item!, 'noted first', 'w');
    const relative = (done.artifact as { created: { path: string } }).created.path;
    expect(fs.readFileSync(journalPath(t.home.layout), 'utf8').split('\n')).toContain(relative);
    expect(fs.existsSync(absoluteArtifactPath(t.home.layout, relative))).toBe(true);
  });

  it('a sweep deletes only row-less files, and a completion whose file a sweep took gives its item back', async () => {
    const t = await setup(dialect, 3);
    const [first, second, third] = await t.claim('w');
    const completions = new PendingCompletions(t.home.db, t.home.layout, 'w', silent);

    // Committed: its file has a row and survives any sweep.
    const kept = await t.store(first!, 'committed', 'w');
    completions.add(first!, kept);
    await completions.flush();
    // Stored but not committed yet, and a dead worker's journal names the same content address (its own
    // twin of these bytes was never committed): the sweep deletes the file from under this completion.
    const twin = await t.store(second!, 'shared content', 'w');
    const twinPath = (twin.artifact as { created: { path: string } }).created.path;
    const keptPath = (kept.artifact as { created: { path: string } }).created.path;
    const dead = path.join(t.home.layout.tmp, 'stored-999999999.list');
    fs.writeFileSync(dead, `${twinPath}\n${keptPath}\n`);
    expect(await sweepJournal(t.home, dead)).toBe(1);
    expect(fs.existsSync(dead)).toBe(false);
    expect(fs.existsSync(absoluteArtifactPath(t.home.layout, keptPath))).toBe(true);
    expect(fs.existsSync(absoluteArtifactPath(t.home.layout, twinPath))).toBe(false);

    const present = await t.store(third!, 'still there', 'w');
    completions.add(second!, twin);
    completions.add(third!, present);
    await completions.flush();
    // No row points at nothing: the item whose file went is pending again, uncharged; the other is done.
    expect(await getWorkItem(t.home.db, second!.id)).toMatchObject({ status: 'pending', attempts: 0 });
    expect(await getWorkItem(t.home.db, third!.id)).toMatchObject({ status: 'done' });
    const rows = await t.home.db.selectFrom('artifacts').select(['path']).execute();
    expect(rows.map((r) => r.path).sort()).toEqual(
      [keptPath, (present.artifact as { created: { path: string } }).created.path].sort(),
    );
    for (const row of rows) expect(fs.existsSync(absoluteArtifactPath(t.home.layout, row.path))).toBe(true);
  });
});
