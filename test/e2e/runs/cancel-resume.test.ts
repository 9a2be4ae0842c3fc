import { afterEach, describe, expect, it } from 'vitest';
import { createFixture, waitUntilDead, type ArtifactRow, type Fixture, type RunJson } from './harness.js';

/**
 * Drill B (PRODUCT section 6): `run cancel` mid-run stops the run, keeps what was committed, leaves the
 * rest pending; `run resume` finishes it without redoing anything: the artifacts made before the cancel
 * are the same rows (and files) afterwards.
 */

let fixture: Fixture | undefined;
afterEach(async () => {
  await fixture?.cleanup();
  fixture = undefined;
});

describe('drill B: cancel mid-run, then resume', () => {
  it('keeps done items through the cancel and finishes the rest without redoing them', async () => {
    fixture = await createFixture({ files: 30 });
    const f = fixture;
    const { id, coordinatorPid } = await f.startDetached('testsleep', [
      '--set',
      'write.ms=500',
      '--workers',
      '2',
    ]);
    await f.waitFor(id, (run) => run.counts.done >= 4, 'a few items done');

    const cancel = await f.cli(['run', 'cancel', id, '--json']);
    expect(cancel.code, cancel.stderr).toBe(0);
    const cancelled = JSON.parse(cancel.stdout) as RunJson;
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.statusReason).toBe('cancelled by the user');
    expect(cancelled.counts.running).toBe(0);
    expect(cancelled.counts.failed).toBe(0);
    expect(cancelled.counts.done).toBeGreaterThan(0);
    expect(cancelled.counts.pending).toBeGreaterThan(0);
    expect(cancelled.counts.done + cancelled.counts.pending).toBe(30);
    // The coordinator and its workers are gone.
    await waitUntilDead([coordinatorPid]);

    const shown = await f.show(id);
    expect(shown.status).toBe('cancelled');
    expect(shown.counts).toEqual(cancelled.counts);

    // What the cancel kept: each done item with its artifact, as rows.
    const before = f.items(id).filter((item) => item.status === 'done');
    expect(before).toHaveLength(cancelled.counts.done);
    const artifactsBefore = f.artifacts(id);
    expect(artifactsBefore.map((a) => a.id).sort()).toEqual(before.map((i) => i.artifact_id).sort());
    // Released items do not carry an attempt for work they never finished.
    for (const item of f.items(id).filter((i) => i.status === 'pending')) expect(item.attempts).toBe(0);

    // A cancelled run is resumable; a second cancel of it changes nothing.
    const again = await f.json<RunJson>(['run', 'cancel', id]);
    expect(again.status).toBe('cancelled');

    const resume = await f.cli(['run', 'resume', id, '--json']);
    expect(resume.code, resume.stderr).toBe(0);
    const resumed = JSON.parse(resume.stdout) as RunJson;
    expect(resumed.id).toBe(id);
    expect(resumed.status).toBe('completed');
    expect(resumed.counts).toEqual({
      total: 30,
      pending: 0,
      running: 0,
      done: 30,
      failed: 0,
      skipped: 0,
      reused: 0,
    });

    const after = f.items(id);
    for (const item of before) {
      const now = after.find((i) => i.id === item.id)!;
      // Not redone: same artifact, same finish time, no extra attempt.
      expect(now).toMatchObject({
        status: 'done',
        artifact_id: item.artifact_id,
        finished_at: item.finished_at,
        attempts: item.attempts,
      });
    }
    const artifactsAfter = f.artifacts(id);
    expect(artifactsAfter).toHaveLength(30);
    for (const artifact of artifactsBefore) {
      expect(artifactsAfter.find((a: ArtifactRow) => a.id === artifact.id)).toEqual(artifact);
    }
    expect(new Set(artifactsAfter.map((a) => a.asset_id)).size).toBe(30);

    // Completed is final: neither resume nor cancel changes it.
    expect((await f.cli(['run', 'resume', id])).code).toBe(2);
    expect((await f.cli(['run', 'cancel', id])).code).toBe(2);
    expect((await f.show(id)).status).toBe('completed');
    f.verify();
  });
});
