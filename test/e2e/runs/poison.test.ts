import { afterEach, describe, expect, it } from 'vitest';
import { createFixture, type Fixture, type LineageRow, type RunJson } from './harness.js';

/**
 * Drill F (PRODUCT section 6): a poison file that kills its worker process every time (a real SIGSEGV of
 * the worker) is retried up to max attempts and quarantined as `failed` with reason `worker-crashed`; a
 * file the tool rejects fails at once with its reason and stderr tail; the steps that needed their
 * results are skipped; the rest of the run completes and the run exits 3.
 */

let fixture: Fixture | undefined;
afterEach(async () => {
  await fixture?.cleanup();
  fixture = undefined;
});

describe('drill F: a poison file', () => {
  it('quarantines the crashing file after max attempts and completes the rest', async () => {
    fixture = await createFixture({ files: 6, extra: ['bad/crash-marker.jpg', 'bad/fail-marker.jpg'] });
    const f = fixture;
    const crash = await f.assetByPath('bad/crash-marker.jpg');
    const fail = await f.assetByPath('bad/fail-marker.jpg');
    expect(crash.mediaType).toBe('image');

    const result = await f.cli([
      'run',
      'start',
      'testfault',
      '--collection',
      'c',
      '--workers',
      '2',
      '--json',
    ]);
    expect(result.code, result.stderr).toBe(3);
    const run = JSON.parse(result.stdout) as RunJson;
    expect(run.status).toBe('completed');
    expect(run.maxAttempts).toBe(3);
    expect(run.steps.probe).toEqual({
      total: 8,
      pending: 0,
      running: 0,
      done: 6,
      failed: 2,
      skipped: 0,
      reused: 0,
    });
    expect(run.steps.after).toEqual({
      total: 8,
      pending: 0,
      running: 0,
      done: 6,
      failed: 0,
      skipped: 2,
      reused: 0,
    });
    expect(run.counts).toEqual({
      total: 16,
      pending: 0,
      running: 0,
      done: 12,
      failed: 2,
      skipped: 2,
      reused: 0,
    });
    expect(run.stats.workerCrashes).toBe(3);

    expect(run.failures).toHaveLength(2);
    const crashed = run.failures.find((failure) => failure.assetId === crash.id)!;
    expect(crashed).toMatchObject({
      path: 'archive:bad/crash-marker.jpg',
      step: 'probe',
      reason: 'worker-crashed',
      attempts: 3,
      message: 'worker crashed (SIGSEGV) 3 times',
    });
    const rejected = run.failures.find((failure) => failure.assetId === fail.id)!;
    expect(rejected).toEqual({
      itemId: expect.any(Number) as number,
      assetId: fail.id,
      path: 'archive:bad/fail-marker.jpg',
      step: 'probe',
      reason: 'decode-error',
      attempts: 1,
      message: 'not a picture: marker found',
      stderrTail: 'probe: bad marker\nprobe: giving up',
    });

    const items = f.items(run.id);
    for (const asset of [crash, fail]) {
      const after = items.find((item) => item.asset_id === asset.id && item.step === 'after')!;
      expect(after).toMatchObject({ status: 'skipped', reason: 'input-unavailable', attempts: 0 });
    }
    const good = items.filter((item) => item.asset_id !== crash.id && item.asset_id !== fail.id);
    expect(good).toHaveLength(12);
    for (const item of good) expect(item).toMatchObject({ status: 'done', attempts: 1 });

    // `after` consumed the probe's artifact of the same asset, and its lineage says so.
    const artifacts = f.artifacts(run.id);
    expect(artifacts).toHaveLength(12);
    for (const item of good.filter((i) => i.step === 'after')) {
      const probe = good.find((i) => i.step === 'probe' && i.asset_id === item.asset_id)!;
      const probeArtifact = artifacts.find((a) => a.id === probe.artifact_id)!;
      const [lineage] = f.query<LineageRow>('select * from lineage where artifact_id = ?', item.artifact_id);
      expect(JSON.parse(lineage!.inputs_json)).toEqual([
        { assetId: item.asset_id, sha256: item.asset_id },
        { assetId: item.asset_id, sha256: probeArtifact.sha256, artifactId: probeArtifact.id },
      ]);
    }

    // For a person: failures grouped by reason, with the attempts, the message and the stderr tail.
    const human = await f.cli(['run', 'show', run.id]);
    expect(human.code).toBe(0);
    const text = human.stdout;
    expect(text).toContain(`Run ${run.id}  COMPLETED`);
    expect(text).toContain('Failures (2):');
    const decodeAt = text.indexOf('  decode-error (1)');
    const crashAt = text.indexOf('  worker-crashed (1)');
    expect(decodeAt).toBeGreaterThan(0);
    expect(crashAt).toBeGreaterThan(decodeAt);
    expect(text.slice(decodeAt, crashAt)).toMatch(
      /probe\s+archive:bad\/fail-marker\.jpg {2}\[1 attempt\]\n\s+not a picture: marker found\n\s+stderr: probe: giving up/,
    );
    expect(text.slice(crashAt)).toMatch(
      /probe\s+archive:bad\/crash-marker\.jpg {2}\[3 attempts\]\n\s+worker crashed \(SIGSEGV\) 3 times/,
    );
    f.verify();
  });
});
