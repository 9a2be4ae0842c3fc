import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { describeEachDialect } from '../../helpers/postgres.js';
import { drillLog, expectCoreCompleted, failuresOf, KNOWN_FAILURES } from './core-expectations.js';
import { createRealFixture, DRILL_TIMEOUT_MS, fixturesPerTest, tmpfsUnavailable } from './harness.js';
import type { RunJson } from './types.js';

/**
 * Drill C (PRODUCT section 6): a real `core` run with `--min-free` just below the free space of the
 * store's disk. Its own writes (artifacts, database, log) cross the threshold after a few items: the
 * run pauses before the next artifact write with the figures in its reason, fails nothing for it, leaves
 * nothing half-written, and `run resume --min-free <lower>` completes it keeping what was written.
 *
 * The home sits on a filesystem of its own (harness: `privateDisk`), so that its free space moves only
 * with what this run writes, not with whatever else this shared machine is doing to its disks.
 */

const track = fixturesPerTest({ realMedia: true });

/** Some writes fit below the threshold: the database's first pages, a handful of thumbnails and JSONs. */
const HEADROOM = 1_000_000;
/**
 * The home on a tmpfs of its own where one can be mounted (root, as on CI): /dev/shm, the fallback, is
 * shared with every process on the machine (a browser's shared memory), whose use moves its free space.
 */
const DISK = tmpfsUnavailable() === null ? { tmpfsBytes: 256 * 1024 * 1024 } : { privateDisk: true };

const UNIT: Record<string, number> = { B: 1, bytes: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 };
/** `25.28 GB` (or `25280001234 bytes` when rounding would hide the difference) back to bytes. */
const bytesOf = (text: string) => {
  const [value, unit] = text.split(' ');
  return Number(value) * UNIT[unit!]!;
};

describeEachDialect('drill C: disk threshold', (dialect) => {
  it(
    'pauses after a few writes, fails nothing for it, and resume completes',
    { timeout: DRILL_TIMEOUT_MS },
    async () => {
      const f = track(await createRealFixture({ ...DISK, dialect: dialect.name }));
      const artifacts = path.join(f.home, 'artifacts');
      const stats = fs.statfsSync(artifacts);
      const threshold = stats.bavail * stats.bsize - HEADROOM;

      const start = await f.cli([
        'run',
        'start',
        'core',
        '--collection',
        'c',
        '--workers',
        '2',
        '--min-free',
        String(threshold),
        '--json',
      ]);
      // Exit 4: stopped before finishing.
      expect(start.code, start.stderr).toBe(4);
      const paused = JSON.parse(start.stdout) as RunJson;
      drillLog('C paused', paused);
      expect(paused.status).toBe('paused');
      expect(paused.minFree).toEqual({ bytes: threshold, spec: String(threshold) });
      const reason = /^disk-threshold: (\S+ \S+) free, (\S+ \S+) required \(--min-free (\d+)\)$/.exec(
        paused.statusReason ?? '',
      );
      expect(reason, paused.statusReason ?? 'no reason').not.toBeNull();
      const [, free, required, spec] = reason!;
      expect(Number(spec)).toBe(threshold);
      expect(Math.abs(bytesOf(required!) - threshold)).toBeLessThan(0.01e9);
      expect(bytesOf(free!)).toBeLessThanOrEqual(bytesOf(required!));

      // A few artifacts were written before the pause, the rest waits; nothing is blamed on the disk.
      const { total, pending, running, done, failed, skipped } = paused.counts;
      expect(done).toBeGreaterThan(0);
      expect(pending).toBeGreaterThan(0);
      expect(running).toBe(0);
      expect(pending + done + failed + skipped).toBe(total);
      for (const failure of failuresOf(paused)) expect(KNOWN_FAILURES).toContainEqual(failure);
      const itemsBefore = f.items(paused.id);
      for (const item of itemsBefore.filter((i) => i.status === 'pending')) expect(item.attempts).toBe(0);
      const artifactsBefore = f.artifacts(paused.id);
      expect(artifactsBefore.map((a) => a.id).sort()).toEqual(
        itemsBefore
          .filter((i) => i.status === 'done')
          .map((i) => i.artifact_id)
          .sort(),
      );
      // Nothing half-written: no temporary artifact left, every stored file whole and owned by a row.
      expect(fs.readdirSync(path.join(f.home, 'tmp')).filter((name) => name.startsWith('artifact-'))).toEqual(
        [],
      );
      expect(await f.show(paused.id)).toMatchObject({ status: 'paused', statusReason: paused.statusReason });
      f.verify();

      const resume = await f.cli(['run', 'resume', paused.id, '--min-free', '1MB', '--json']);
      expect(resume.code, resume.stderr).toBe(3);
      const resumed = JSON.parse(resume.stdout) as RunJson;
      drillLog('C resumed', resumed);
      expectCoreCompleted(resumed, f.model);
      expect(resumed.statusReason).toBeNull();
      expect(resumed.minFree).toEqual({ bytes: 1_000_000, spec: '1MB' });
      const artifactsAfter = f.artifacts(paused.id);
      for (const artifact of artifactsBefore) expect(artifactsAfter).toContainEqual(artifact);
      for (const item of f.items(paused.id)) expect(item.attempts).toBe(item.status === 'skipped' ? 0 : 1);
      f.verify();
      await f.expectNoProcessLeft();
    },
  );
});
