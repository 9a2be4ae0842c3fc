import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { describeEachDialect } from '../../helpers/postgres.js';
import { createFixture, fixturesPerTest } from './harness.js';
import type { RunJson } from './types.js';

interface GcReport {
  dryRun: boolean;
  expiredArtifacts: number;
  orphanFiles: number;
  tempEntries: number;
  keptFiles: number;
}

const DAY_S = 24 * 60 * 60;

/** Puts a file in the home with an mtime `ageDays` in the past. */
function plant(file: string, ageDays: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, 'left behind\n');
  const when = Date.now() / 1000 - ageDays * DAY_S;
  fs.utimesSync(file, when, when);
}

describeEachDialect('gc', (dialect) => {
  const track = fixturesPerTest();

  it('deletes expired sandbox artifacts, old orphans and stale temp files, never a file a record points to', async () => {
    // Retention 0: every sandbox artifact is expired as soon as it is made.
    const f = track(
      await createFixture({
        dialect: dialect.name,
        files: 4,
        config: (c) => (c.runs = { ...c.runs, sandboxRetentionDays: 0 }),
      }),
    );
    const sandbox = await f.json<RunJson>([
      'run',
      'start',
      'testsleep',
      '--collection',
      'c',
      '--set',
      'write.ms=0',
    ]);
    const production = await f.json<RunJson>([
      'run',
      'start',
      'testsleep',
      '--collection',
      'c',
      '--policy',
      'production',
      '--set',
      'write.ms=0',
      '--set',
      'write.label=b',
    ]);
    expect(sandbox.counts.done).toBe(4);
    expect(production.counts.done).toBe(4);
    const sandboxArtifacts = f.artifacts(sandbox.id);
    const productionArtifacts = f.artifacts(production.id);
    expect(sandboxArtifacts).toHaveLength(4);
    expect(productionArtifacts).toHaveLength(4);

    const store = path.join(f.home, 'artifacts');
    const oldOrphan = path.join(store, 'zz', 'zz', 'old-orphan.txt');
    const freshOrphan = path.join(store, 'zz', 'zz', 'fresh-orphan.txt');
    const staleTemp = path.join(f.home, 'tmp', 'artifact-stale');
    plant(oldOrphan, 2);
    plant(freshOrphan, 0); // a worker may have renamed it into place a moment before committing its row
    plant(staleTemp, 2);

    // A dry run reports and deletes nothing.
    const dry = await f.json<GcReport>(['gc', '--dry-run']);
    expect(dry).toMatchObject({ dryRun: true, expiredArtifacts: 4, orphanFiles: 5, tempEntries: 1 });
    expect(f.artifacts()).toHaveLength(8);
    expect(fs.existsSync(oldOrphan) && fs.existsSync(staleTemp)).toBe(true);

    const report = await f.json<GcReport>(['gc']);
    expect(report).toMatchObject({ dryRun: false, expiredArtifacts: 4, orphanFiles: 5, tempEntries: 1 });

    // The sandbox records and their files are gone; their items stay done, without an artifact.
    expect(f.artifacts(sandbox.id)).toEqual([]);
    for (const artifact of sandboxArtifacts)
      expect(fs.existsSync(path.join(store, artifact.path))).toBe(false);
    expect(f.items(sandbox.id).map((item) => [item.status, item.artifact_id])).toEqual(
      Array.from({ length: 4 }, () => ['done', null]),
    );
    expect(f.query('select * from lineage where run_id = ?', sandbox.id)).toEqual([]);

    // Production artifacts are kept, with their files; so is the orphan too young to judge.
    expect(f.artifacts(production.id).map((a) => a.id)).toEqual(productionArtifacts.map((a) => a.id));
    for (const artifact of productionArtifacts)
      expect(fs.existsSync(path.join(store, artifact.path))).toBe(true);
    expect(fs.existsSync(freshOrphan)).toBe(true);
    expect(fs.existsSync(oldOrphan)).toBe(false);
    expect(fs.existsSync(staleTemp)).toBe(false);

    fs.rmSync(freshOrphan);
    f.verify();
  });

  it('removes at once what a killed worker left: journaled files without rows and its partial temp file', async () => {
    const f = track(await createFixture({ dialect: dialect.name, files: 2 }));
    const run = await f.json<RunJson>([
      'run',
      'start',
      'testsleep',
      '--collection',
      'c',
      '--policy',
      'production',
      '--set',
      'write.ms=0',
    ]);
    const [kept] = f.artifacts(run.id);
    const tmp = path.join(f.home, 'tmp');
    const store = path.join(f.home, 'artifacts');
    // A process that is gone: its pid names its leftovers.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    const deadPid = Number(dead.stdout.toString());
    const contentPath = (seed: string) => {
      const sha = createHash('sha256').update(seed).digest('hex');
      return `${sha.slice(0, 2)}/${sha.slice(2, 4)}/${sha}.txt`;
    };
    const orphan = contentPath('orphan');
    const live = contentPath('live');
    plant(path.join(store, ...orphan.split('/')), 0);
    plant(path.join(store, ...live.split('/')), 0);
    // Renamed into the store just before the kill, never committed; and one whose row did commit.
    plant(path.join(tmp, `stored-${deadPid}.list`), 0);
    fs.writeFileSync(path.join(tmp, `stored-${deadPid}.list`), `${orphan}\n${kept!.path}\nab/cd/cut-sh`);
    const partial = path.join(tmp, `artifact-${deadPid}-0a1b2c3d4e5f`);
    plant(partial, 0);
    // A live process's journal names a file that may be on its way to its row: untouched.
    fs.writeFileSync(path.join(tmp, `stored-${process.pid}.list`), `${live}\n`);

    const report = await f.json<GcReport>(['gc']);
    expect(report).toMatchObject({ orphanFiles: 1, tempEntries: 1 });
    expect(fs.existsSync(path.join(store, ...orphan.split('/')))).toBe(false);
    expect(fs.existsSync(partial)).toBe(false);
    expect(fs.existsSync(path.join(tmp, `stored-${deadPid}.list`))).toBe(false);
    expect(fs.existsSync(f.storeFile(kept!.path))).toBe(true);
    expect(fs.existsSync(path.join(store, ...live.split('/')))).toBe(true);
    expect(fs.existsSync(path.join(tmp, `stored-${process.pid}.list`))).toBe(true);

    // The next coordinator sweeps them too, before its workers start.
    fs.rmSync(path.join(tmp, `stored-${process.pid}.list`));
    fs.rmSync(path.join(store, ...live.split('/')));
    plant(path.join(store, ...orphan.split('/')), 0);
    fs.writeFileSync(path.join(tmp, `stored-${deadPid}.list`), `${orphan}\n`);
    await f.json<RunJson>(['run', 'start', 'testsleep', '--collection', 'c', '--set', 'write.ms=0']);
    expect(fs.existsSync(path.join(store, ...orphan.split('/')))).toBe(false);
    f.verify();
  });
});
