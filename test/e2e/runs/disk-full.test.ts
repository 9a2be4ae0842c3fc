import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { POSTGRES } from '../../helpers/postgres.js';
import { drillLog, expectCoreCompleted, failuresOf, KNOWN_FAILURES } from './core-expectations.js';
import {
  createRealFixture,
  DRILL_TIMEOUT_MS,
  fixturesPerTest,
  tmpfsUnavailable,
  type Fixture,
  type FixtureDialect,
} from './harness.js';
import type { RunJson } from './types.js';

/**
 * Drill I (PRODUCT section 6; issue 14 item 8): a really full disk. The home lives on a small tmpfs that
 * this test mounts; `--min-free 0` turns the threshold off, so the run meets real ENOSPC: in an artifact
 * file, in SQLite (SQLITE_FULL), or in the run log, whichever comes first. The run must pause with reason
 * `disk-full` and the figures, charge no attempt, leave no partial file; while the disk is completely
 * full every command answers with a clear message (no stack trace, no "cannot rollback" hiding the real
 * error); once space returns, `run resume` completes every item, each with its one attempt.
 */

const unavailable = tmpfsUnavailable();
if (unavailable) console.warn(`drill I skipped: ${unavailable}`);

const track = fixturesPerTest({ realMedia: true });

/** Big enough for the home's database after the catalog and its WAL; the filler takes the rest. */
const TMPFS_BYTES = 40 * 1024 * 1024;
/** Room left for the run beyond the coordinator's 256 KiB reserve: a few artifacts fit, then ENOSPC. */
const HEADROOM = 1536 * 1024;
/**
 * On PostgreSQL only artifacts and run logs take room on the home (the database is elsewhere): a few
 * thumbnails' worth, so that ENOSPC comes early in the run.
 */
const HEADROOM_POSTGRES = 128 * 1024;
const RESERVE = 256 * 1024;

/** No stack trace and no error that hides the real one. */
function expectCleanMessage(stderr: string): void {
  expect(stderr).not.toMatch(/^\s+at /m);
  expect(stderr).not.toMatch(/cannot rollback/i);
  expect(stderr).not.toMatch(/SqliteError|Uncaught|unhandled/i);
}

function freeBytes(dir: string): number {
  const stats = fs.statfsSync(dir);
  return stats.bavail * stats.bsize;
}

/** Writes a file of `bytes` zeros (real blocks on tmpfs). */
function fill(file: string, bytes: number): void {
  const fd = fs.openSync(file, 'w');
  try {
    const chunk = Buffer.alloc(64 * 1024);
    for (let left = bytes; left > 0; left -= chunk.length)
      fs.writeSync(fd, chunk, 0, Math.min(left, chunk.length));
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes until the disk refuses: afterwards not one more block is free. */
function fillCompletely(file: string): void {
  const fd = fs.openSync(file, 'w');
  try {
    const chunk = Buffer.alloc(4096);
    for (;;) fs.writeSync(fd, chunk);
  } catch (error) {
    expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
  } finally {
    fs.closeSync(fd);
  }
}

const tempArtifacts = (f: Fixture) =>
  fs.readdirSync(path.join(f.home, 'tmp')).filter((name) => name.startsWith('artifact-'));

/**
 * The drill on one dialect. On PostgreSQL the home (artifacts, temp files, run logs) is on the full tmpfs
 * and the database on the test cluster: ENOSPC comes from the artifact store or the log, never from the
 * database, and the run must pause just the same.
 */
async function drillFullDisk(dialect: FixtureDialect): Promise<void> {
  const f = track(await createRealFixture({ tmpfsBytes: TMPFS_BYTES, dialect }));
  const disk = path.dirname(f.home);
  const filler = path.join(disk, 'filler');
  fill(filler, freeBytes(disk) - RESERVE - (dialect === 'postgres' ? HEADROOM_POSTGRES : HEADROOM));

  const start = await f.cli([
    'run',
    'start',
    'core',
    '--collection',
    'c',
    '--workers',
    '2',
    '--min-free',
    '0',
    '--json',
  ]);
  expectCleanMessage(start.stderr);
  // Exit 4: stopped before finishing.
  expect(start.code, start.stderr).toBe(4);
  const paused = JSON.parse(start.stdout) as RunJson;
  drillLog('I paused', paused);
  expect(paused.status).toBe('paused');
  expect(paused.statusReason).toMatch(
    /^disk-full: \S+ \S+ free of \S+ \S+ on \S+: .+ failed( \((ENOSPC|SQLITE_FULL)\))?$/,
  );
  const { total, pending, running, done, failed, skipped } = paused.counts;
  expect(pending).toBeGreaterThan(0);
  expect(running).toBe(0);
  expect(pending + done + failed + skipped).toBe(total);
  // Nothing is blamed on the disk: only the archive's own broken files fail, and nothing waits with
  // an attempt used.
  for (const failure of failuresOf(paused)) expect(KNOWN_FAILURES).toContainEqual(failure);
  for (const item of f.items(paused.id)) {
    expect(item.reason ?? '', `item ${item.id}`).not.toMatch(/io-error|disk/);
    if (item.status === 'pending') expect(item.attempts, `item ${item.id}`).toBe(0);
  }
  expect(tempArtifacts(f)).toEqual([]);
  f.verify();

  // Completely full now: not one block left.
  const filler2 = path.join(disk, 'filler-2');
  fillCompletely(filler2);
  expect(freeBytes(disk)).toBeLessThan(8192);

  const shown = await f.cli(['run', 'show', paused.id, '--json']);
  expect(shown.code, shown.stderr).toBe(0);
  expect(JSON.parse(shown.stdout)).toMatchObject({ status: 'paused', statusReason: paused.statusReason });
  const human = await f.cli(['run', 'show', paused.id]);
  expect(human.code, human.stderr).toBe(0);
  expect(human.stdout).toContain('disk-full');
  for (const args of [
    ['catalog'],
    ['run', 'resume', paused.id, '--min-free', '0'],
    ['run', 'cancel', paused.id],
  ]) {
    const result = await f.cli(args);
    if (process.env.ARCHIVIST_DRILL_LOG)
      console.log(`drill I, disk full: ${args.join(' ')} -> ${result.code} ${result.stderr.trim()}`);
    expectCleanMessage(result.stderr);
    // A command that had to write says the disk is full, with the figures; one that could, did.
    if (result.code !== 0) {
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/is full \(\S+ \S+ free of \S+ \S+\)/);
    }
  }
  // The resume was refused before anything was written; a cancel, if it had room, cancelled it.
  const status = (await f.show(paused.id)).status;
  expect(['paused', 'cancelled']).toContain(status);
  const resumeWhileFull = await f.cli(['run', 'resume', paused.id, '--json']);
  expect(resumeWhileFull.code).toBe(1);
  expect(JSON.parse(resumeWhileFull.stdout)).toMatchObject({ error: { code: 'io', retryable: true } });

  // Space returns.
  fs.rmSync(filler);
  fs.rmSync(filler2);
  const resume = await f.cli(['run', 'resume', paused.id, '--min-free', '0', '--json']);
  expectCleanMessage(resume.stderr);
  expect(resume.code, resume.stderr).toBe(3);
  const resumed = JSON.parse(resume.stdout) as RunJson;
  drillLog('I resumed', resumed);
  expectCoreCompleted(resumed, f.model);
  // Attempts were not burned: every item was tried once (the known failures once too).
  for (const item of f.items(paused.id)) {
    expect(item.attempts, `item ${item.id} (${item.status})`).toBe(item.status === 'skipped' ? 0 : 1);
  }
  expect(tempArtifacts(f)).toEqual([]);
  f.verify();
  await f.expectNoProcessLeft();
}

describe.skipIf(unavailable !== null)('drill I: a really full disk', () => {
  it(
    'pauses with disk-full, charges nothing, every command answers while full, resume completes after',
    { timeout: DRILL_TIMEOUT_MS },
    () => drillFullDisk('sqlite'),
  );
});

describe.skipIf(unavailable !== null || POSTGRES.skipReason !== '')(
  `drill I on a PostgreSQL home${POSTGRES.skipReason ? ` (skipped: ${POSTGRES.skipReason})` : ''}`,
  () => {
    it(
      'the artifact store on a full disk: paused disk-full, nothing charged, commands answer, resume completes',
      { timeout: DRILL_TIMEOUT_MS },
      () => drillFullDisk('postgres'),
    );
  },
);
