import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { describeEachDialect } from '../../helpers/postgres.js';
import { createFixture, fixturesPerTest } from './harness.js';
import type { AssetJson, LineageRow, RunJson } from './types.js';

/**
 * `run start` before and after any work: invalid params are refused with exit 2 and leave no record
 * (drill D, first half), and a valid foreground run ends with exit 0, every item done, and every artifact
 * in the store with its lineage.
 */

const track = fixturesPerTest();

describeEachDialect('run start', (dialect) => {
  it('refuses invalid params with exit 2, naming the param, and writes no run', async () => {
    const f = track(await createFixture({ dialect: dialect.name, files: 3 }));
    const refused: [string, RegExp][] = [
      ['write.size=99999', /write\.size=99999.*(4096|too big|<=)/i],
      ['write.nope=1', /write\.nope=1.*no param "nope".*ms, size, label/s],
      ['nostep.x=1', /nostep\.x=1.*no step "nostep".*write/s],
      ['write.label=z', /write\.label="z"/],
      ['write.ms=fast', /write\.ms="fast"/],
      ['size=12', /size=12: expected step\.param=value/],
    ];
    for (const [index, [set, message]] of refused.entries()) {
      const result = await f.cli(['run', 'start', 'testsleep', '--collection', 'c', '--set', set]);
      expect(result.code, `--set ${set}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stdout).toBe('');
      if (index >= 3) continue;
      // --json carries the same refusal as a document.
      const json = await f.cli(['run', 'start', 'testsleep', '--collection', 'c', '--set', set, '--json']);
      expect(json.code).toBe(2);
      const { error } = JSON.parse(json.stdout) as {
        error: { code: string; message: string; hint?: string };
      };
      expect(error.code).toBe('usage');
      expect(`${error.message}\n${error.hint ?? ''}`).toMatch(message);
    }
    // An unknown pipeline and an unknown collection are refused the same way.
    expect((await f.cli(['run', 'start', 'nosuch', '--collection', 'c'])).code).toBe(2);
    expect((await f.cli(['run', 'start', 'testsleep', '--collection', 'nosuch'])).code).toBe(2);
    expect((await f.cli(['run', 'start', 'testsleep', '--collection', 'c', '--min-free', 'lots'])).code).toBe(
      2,
    );

    expect(await f.json<unknown[]>(['run', 'list'])).toEqual([]);
    expect(f.query('select id from runs')).toEqual([]);
    expect(f.query('select id from work_items')).toEqual([]);
    expect(f.storeFiles()).toEqual([]);
    f.verify();
  });

  it('runs in the foreground to completion: every item done, each artifact stored with its lineage', async () => {
    const f = track(await createFixture({ dialect: dialect.name, files: 8, extra: ['notes/readme.txt'] }));
    const result = await f.cli([
      'run',
      'start',
      'testsleep',
      '--collection',
      'c',
      '--set',
      'write.ms=20',
      '--set',
      'write.label=b',
      '--workers',
      '2',
      '--json',
    ]);
    expect(result.code, result.stderr).toBe(0);
    const run = JSON.parse(result.stdout) as RunJson;
    expect(run.status).toBe('completed');
    expect(run.pipeline).toEqual({ name: 'testsleep', version: 1 });
    expect(run.policy).toBe('sandbox');
    expect(run.collection).toBe('c');
    expect(run.parentRunId).toBeNull();
    // Defaults are filled in and recorded with the run.
    expect(run.params).toEqual({ write: { ms: 20, size: 256, label: 'b' } });
    expect(run.toolVersions).toEqual({ write: { name: 'test-tool', version: '1.0' } });
    // 8 images apply; the text file is not an image or video: skipped with the reason.
    expect(run.counts).toEqual({
      total: 9,
      pending: 0,
      running: 0,
      done: 8,
      failed: 0,
      skipped: 1,
      reused: 0,
    });
    expect(run.failures).toEqual([]);
    expect(run.stats.startedAt).toEqual(expect.any(String));
    expect(run.stats.finishedAt).toEqual(expect.any(String));
    expect(run.stats.workers).toBe(2);
    expect((run.stats.counts as RunJson['counts']).done).toBe(8);
    expect(await f.show(run.id)).toMatchObject({ status: 'completed', counts: run.counts });

    const skipped = f.items(run.id).filter((item) => item.status === 'skipped');
    expect(skipped).toHaveLength(1);
    expect(skipped[0]!.reason).toBe('not-applicable');
    const readme = await f.assetByPath('notes/readme.txt');
    expect(readme.mediaType).toBe('other');
    expect(skipped[0]!.asset_id).toBe(readme.id);

    const assets = new Map((await f.json<AssetJson[]>(['assets'])).map((asset) => [asset.id, asset]));
    const done = f.items(run.id).filter((item) => item.status === 'done');
    expect(done).toHaveLength(8);
    const artifacts = f.artifacts(run.id);
    expect(artifacts).toHaveLength(8);
    for (const item of done) {
      expect(item.attempts).toBe(1);
      expect(item.reused).toBe(0);
      const artifact = artifacts.find((a) => a.id === item.artifact_id)!;
      expect(artifact, `item ${item.id} points at a recorded artifact`).toBeDefined();
      expect(artifact).toMatchObject({
        asset_id: item.asset_id,
        step: 'write',
        kind: 'note',
        policy: 'sandbox',
      });
      // Sandbox artifacts never become an asset's current ones.
      expect(artifact.is_current).toBe(0);
      const bytes = fs.readFileSync(path.join(f.home, 'artifacts', ...artifact.path.split('/')), 'utf8');
      expect(bytes).toBe(`${item.asset_id} size=256 label=b\n`);

      const [lineage] = f.query<LineageRow>('select * from lineage where artifact_id = ?', artifact.id);
      expect(lineage).toMatchObject({
        run_id: run.id,
        pipeline: 'testsleep@1',
        step: 'write',
        tool_name: 'test-tool',
        tool_version: '1.0',
      });
      expect(JSON.parse(lineage!.params_json)).toEqual({ ms: 20, size: 256, label: 'b' });
      // The asset id is its content hash: the input is named by both.
      const asset = assets.get(item.asset_id)!;
      expect(asset.sha256).toBe(item.asset_id);
      expect(JSON.parse(lineage!.inputs_json)).toEqual([{ assetId: asset.id, sha256: asset.sha256 }]);
      expect(lineage!.worker).toMatch(/:\d+$/);
    }
    // Each asset that applies got exactly one artifact.
    expect(new Set(artifacts.map((a) => a.asset_id)).size).toBe(8);

    // `asset --json` answers the same: the artifact, where it is, and how it was made.
    const first = await f.assetByPath('img-000.jpg');
    const item = done.find((i) => i.asset_id === first.id)!;
    const artifact = artifacts.find((a) => a.id === item.artifact_id)!;
    expect(first.artifacts).toHaveLength(1);
    expect(first.artifacts[0]).toMatchObject({
      id: artifact.id,
      kind: 'note',
      step: 'write',
      assetId: first.id,
      runId: run.id,
      sha256: artifact.sha256,
      size: artifact.size,
      mime: 'text/plain',
      path: path.join(f.home, 'artifacts', ...artifact.path.split('/')),
      current: false,
      lineage: {
        runId: run.id,
        pipeline: 'testsleep@1',
        step: 'write',
        tool: { name: 'test-tool', version: '1.0' },
        params: { ms: 20, size: 256, label: 'b' },
        inputs: [{ assetId: first.id, sha256: first.sha256 }],
      },
    });
    f.verify();
  });
});
