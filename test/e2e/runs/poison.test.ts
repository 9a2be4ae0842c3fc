import { expect, it } from 'vitest';
import { describeEachDialect } from '../../helpers/postgres.js';
import {
  drillLog,
  expectCoreCompleted,
  idOfPath,
  imageFacts,
  isCameraJpeg,
  KNOWN_FAILURES,
  type ExpectedFailure,
} from './core-expectations.js';
import { createFixture, createRealFixture, DRILL_TIMEOUT_MS, fixturesPerTest } from './harness.js';
import { POISON_PATH } from './real-media.js';
import type { LineageRow, RunJson } from './types.js';

/**
 * Drill F (PRODUCT section 6): a poison file that kills its worker process every time (a real SIGSEGV of
 * the worker, in `testpoison`: core's real steps with a thumbnail decoder that crashes on a marked JPEG)
 * is retried up to max attempts and quarantined as `failed` with reason `worker-crashed`; the rest of the
 * real run completes with real thumbnails and exits 3. The engine-level case after it (a test pipeline
 * with a dependent step) shows that the steps needing a failed result are skipped with the reason.
 */

const track = fixturesPerTest({ realMedia: true });

const QUARANTINED: ExpectedFailure = {
  path: POISON_PATH,
  step: 'thumbnail',
  reason: 'worker-crashed',
  attempts: 3,
  message: 'worker crashed (SIGSEGV) 3 times',
};

describeEachDialect('drill F: a poison file', (dialect) => {
  it(
    'quarantines the file that crashes the decoder after max attempts; the real run completes',
    { timeout: DRILL_TIMEOUT_MS },
    async () => {
      const f = track(await createRealFixture({ poison: true, dialect: dialect.name }));
      const poison = idOfPath(f.model, POISON_PATH);

      const result = await f.cli([
        'run',
        'start',
        'testpoison',
        '--collection',
        'c',
        '--workers',
        '2',
        '--json',
      ]);
      expect(result.code, result.stderr).toBe(3);
      const run = JSON.parse(result.stdout) as RunJson;
      drillLog('F poison', run);
      expect(run.maxAttempts).toBe(3);
      expectCoreCompleted(run, f.model, { failures: [...KNOWN_FAILURES, QUARANTINED] });
      expect(run.stats.workerCrashes).toBe(3);

      // Each crash was the poison's thumbnail, and the coordinator saw the signal.
      const items = f.items(run.id);
      const quarantined = items.find((i) => i.asset_id === poison && i.step === 'thumbnail')!;
      expect(quarantined).toMatchObject({ status: 'failed', attempts: 3, reason: 'worker-crashed' });
      const died = f.runLog(run.id).filter((line) => line.event === 'worker-died');
      expect(died.map((line) => [line.itemId, line.signal])).toEqual(
        Array.from({ length: 3 }, () => [quarantined.id, 'SIGSEGV']),
      );
      // Only its thumbnail crashes: the poison file's metadata was read as for any other photo.
      const poisonAsset = await f.assetByPath(POISON_PATH);
      expect(poisonAsset.artifacts.map((a) => a.step)).toEqual(['metadata']);
      expect(poisonAsset.metadata).toMatchObject({ make: 'NIKON CORPORATION', model: 'NIKON D70' });
      for (const item of items.filter((i) => i.id !== quarantined.id)) {
        expect(item.attempts, `item ${item.id}`).toBe(item.status === 'skipped' ? 0 : 1);
      }

      // The rest are real thumbnails: WebP, the longest edge 256 for the camera-sized photos.
      const cameraIds = new Set(
        [...f.model.assets].filter(([, a]) => a.paths.some(isCameraJpeg)).map(([assetId]) => assetId),
      );
      const artifacts = f.artifacts(run.id);
      const thumbnails = artifacts.filter((a) => a.step === 'thumbnail');
      expect(thumbnails).toHaveLength(run.steps.thumbnail!.done);
      for (const thumbnail of thumbnails) {
        const facts = await imageFacts(f.storeFile(thumbnail.path));
        expect(facts.format).toBe('webp');
        const edge = Math.max(facts.width, facts.height);
        if (cameraIds.has(thumbnail.asset_id)) expect(edge, thumbnail.asset_id).toBe(256);
        else expect(edge).toBeLessThanOrEqual(256);
      }

      // For a person: failures grouped by reason, with the attempts and the message.
      const human = await f.cli(['run', 'show', run.id]);
      expect(human.code).toBe(0);
      expect(human.stdout).toContain(`Run ${run.id}  COMPLETED`);
      expect(human.stdout).toContain('Failures (6):');
      const crashAt = human.stdout.indexOf('  worker-crashed (1)');
      expect(crashAt).toBeGreaterThan(0);
      expect(human.stdout.slice(crashAt)).toMatch(
        /thumbnail\s+archive:poison\/DSC_POISON\.JPG {2}\[3 attempts\]\n\s+worker crashed \(SIGSEGV\) 3 times/,
      );
      f.verify();
      // Nothing outlives the run: not the workers, nor the tools the crashed workers had started.
      await f.expectNoProcessLeft();
    },
  );

  it('skips the steps that needed the result of a crashing or failing item (test pipeline)', async () => {
    const f = track(
      await createFixture({
        files: 6,
        extra: ['bad/crash-marker.jpg', 'bad/fail-marker.jpg'],
        dialect: dialect.name,
      }),
    );
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
