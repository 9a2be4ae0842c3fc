import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createFixture, type Fixture, type RunJson } from './harness.js';

/**
 * Drill C (PRODUCT section 6): with `--min-free` just above the store's real free space, the first artifact
 * write pauses the run with the disk reason and nothing failed; `run resume` with a threshold the disk
 * satisfies completes it.
 */

let fixture: Fixture | undefined;
afterEach(async () => {
  await fixture?.cleanup();
  fixture = undefined;
});

describe('drill C: disk threshold', () => {
  it('pauses before writing below the threshold, fails nothing, and resume completes', async () => {
    fixture = await createFixture({ files: 8 });
    const f = fixture;
    const stats = fs.statfsSync(path.join(f.home, 'artifacts'));
    // Above the real free space by a margin that other processes on a shared machine freeing files in the
    // meantime cannot close.
    const threshold = stats.bavail * stats.bsize + 1_000_000_000;

    const start = await f.cli([
      'run',
      'start',
      'testsleep',
      '--collection',
      'c',
      '--set',
      'write.ms=20',
      '--workers',
      '2',
      '--min-free',
      String(threshold),
      '--json',
    ]);
    expect(start.code, start.stderr).toBe(4);
    const paused = JSON.parse(start.stdout) as RunJson;
    expect(paused.status).toBe('paused');
    expect(paused.statusReason).toMatch(/^disk-threshold: .* free, .* required \(--min-free \d+\)$/);
    expect(paused.minFree).toEqual({ bytes: threshold, spec: String(threshold) });
    // Nothing was written and nothing is blamed on the files.
    expect(paused.counts).toEqual({
      total: 8,
      pending: 8,
      running: 0,
      done: 0,
      failed: 0,
      skipped: 0,
      reused: 0,
    });
    expect(paused.failures).toEqual([]);
    expect(f.artifacts()).toEqual([]);
    expect(f.storeFiles()).toEqual([]);
    for (const item of f.items(paused.id)) {
      expect(item.status).toBe('pending');
      expect(item.attempts).toBe(0);
    }
    expect(await f.show(paused.id)).toMatchObject({ status: 'paused', statusReason: paused.statusReason });
    f.verify();

    const resume = await f.cli(['run', 'resume', paused.id, '--min-free', '1MB', '--json']);
    expect(resume.code, resume.stderr).toBe(0);
    const done = JSON.parse(resume.stdout) as RunJson;
    expect(done.status).toBe('completed');
    expect(done.statusReason).toBeNull();
    expect(done.minFree).toEqual({ bytes: 1_000_000, spec: '1MB' });
    expect(done.counts).toEqual({
      total: 8,
      pending: 0,
      running: 0,
      done: 8,
      failed: 0,
      skipped: 0,
      reused: 0,
    });
    expect(f.artifacts(done.id)).toHaveLength(8);
    for (const item of f.items(done.id)) expect(item.attempts).toBe(1);
    f.verify();
  });
});
