import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { describeEachDialect } from '../../helpers/postgres.js';
import { CLI, REPO_ROOT } from '../../helpers/cli.js';
import {
  drillLog,
  expectCoreCompleted,
  failuresOf,
  KNOWN_FAILURES,
  knownFailingAssets,
} from './core-expectations.js';
import {
  createFixture,
  createRealFixture,
  DRILL_TIMEOUT_MS,
  TEST_PIPELINES,
  fixturesPerTest,
} from './harness.js';
import { catchWorkerMidItem } from './mid-item.js';
import { waitUntilDead } from './processes.js';
import type { ItemRow, RunJson } from './types.js';

/**
 * Stopping a run the other ways a user does: Ctrl-C in the terminal of a foreground real `core` run (a
 * cancel, not a crash of every worker, and no file blamed for it), and `run cancel` of a detached run
 * whose coordinator has not started yet (the cancel holds; the late coordinator does not run it anyway).
 */

const track = fixturesPerTest({ realMedia: true });

describeEachDialect('stopping a run', (dialect) => {
  it(
    'treats Ctrl-C in a foreground run as a cancel: no item is blamed, resume finishes',
    { timeout: DRILL_TIMEOUT_MS },
    async () => {
      const f = track(await createRealFixture({ dialect: dialect.name }));
      const known = knownFailingAssets(f.model);
      // A terminal sends Ctrl-C's SIGINT to the whole foreground process group: the CLI, its workers and
      // the tools they run.
      const child = spawn(
        process.execPath,
        [CLI, '--home', f.home, 'run', 'start', 'core', '--collection', 'c', '--workers', '2', '--json'],
        {
          cwd: REPO_ROOT,
          env: { ...process.env, ...f.env, ARCHIVIST_HOME: '', CI: 'true' },
          detached: true,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      f.track(child.pid!);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));

      // Ctrl-C while a worker waits for ffprobe on the thumbnail of a good video: the SIGINT reaches the
      // tool mid-item, every time. (ffprobe, because ffmpeg handles SIGINT by finishing what it writes: the
      // item may then end done within the cancel's grace, which is fine but proves less.)
      const videoThumbnail = (i: ItemRow) =>
        i.step === 'thumbnail' &&
        f.model.assets.get(i.asset_id)?.mediaType === 'video' &&
        !known.has(i.asset_id);
      const caught = await catchWorkerMidItem(
        f,
        child.pid!,
        (held) => held.filter(videoThumbnail).length === 1,
        () => process.kill(-child.pid!, 'SIGINT'),
        ['ffprobe'],
      );
      const interrupted = caught.held.find(videoThumbnail)!;
      expect(await exited, stderr).toBe(4);

      const run = JSON.parse(stdout) as RunJson;
      drillLog('Ctrl-C', run);
      expect(run.status).toBe('cancelled');
      // Only the archive's broken files may have failed; the video whose tool got the SIGINT is not blamed.
      for (const failure of failuresOf(run)) expect(KNOWN_FAILURES).toContainEqual(failure);
      expect(run.counts.running).toBe(0);
      expect(run.counts.pending).toBeGreaterThan(0);
      expect(run.stats.workerCrashes).toBe(0);
      // The items that were in flight go back untouched: no attempt used, no crash recorded against them.
      // The interrupted item finished within the grace or went back to pending; it did not fail.
      expect(['done', 'pending']).toContain(f.items(run.id).find((i) => i.id === interrupted.id)!.status);
      for (const item of f.items(run.id).filter((i) => i.status === 'pending')) {
        expect(item, `item ${item.id}`).toMatchObject({ attempts: 0, reason: null, message: null });
      }

      const resume = await f.cli(['run', 'resume', run.id, '--json']);
      expect(resume.code, resume.stderr).toBe(3);
      expectCoreCompleted(JSON.parse(resume.stdout) as RunJson, f.model);
      for (const item of f.items(run.id)) expect(item.attempts).toBe(item.status === 'skipped' ? 0 : 1);
      f.verify();
      await f.expectNoProcessLeft();
    },
  );

  it('keeps a cancel made before the detached coordinator took the run', async () => {
    const f = track(await createFixture({ dialect: dialect.name, files: 6 }));
    // A coordinator that starts late (a loaded machine): it waits at start-up until the test opens a gate.
    const gateModule = path.join(f.root, 'late-coordinator.mjs');
    fs.writeFileSync(
      gateModule,
      [
        "import fs from 'node:fs';",
        "import { setTimeout as sleep } from 'node:timers/promises';",
        "if (process.argv.includes('coordinate')) {",
        '  while (!fs.existsSync(process.env.ARCHIVIST_TEST_GATE)) await sleep(20);',
        '}',
        '',
      ].join('\n'),
    );
    const late = (gate: string) => ({
      ARCHIVIST_PIPELINE_MODULES: [TEST_PIPELINES, gateModule].join(path.delimiter),
      ARCHIVIST_TEST_GATE: gate,
    });

    const gate1 = path.join(f.root, 'gate-1');
    const { id, coordinatorPid } = await f.startDetached(
      'testsleep',
      ['--set', 'write.ms=20', '--workers', '2'],
      late(gate1),
    );
    expect((await f.show(id)).status).toBe('queued');
    const cancelled = await f.json<RunJson>(['run', 'cancel', id]);
    expect(cancelled.status).toBe('cancelled');
    fs.writeFileSync(gate1, '');
    await waitUntilDead([coordinatorPid]);
    const after = await f.show(id);
    expect(after.status).toBe('cancelled');
    expect(after.counts).toEqual({
      total: 6,
      pending: 6,
      running: 0,
      done: 0,
      failed: 0,
      skipped: 0,
      reused: 0,
    });
    expect(f.artifacts()).toEqual([]);

    // The same for a detached resume cancelled before its coordinator starts.
    const gate2 = path.join(f.root, 'gate-2');
    const resume = await f.json<{ id: string; coordinatorPid: number }>(
      ['run', 'resume', id, '--detach'],
      0,
      late(gate2),
    );
    f.track(resume.coordinatorPid);
    expect((await f.show(id)).status).toBe('queued');
    expect((await f.json<RunJson>(['run', 'cancel', id])).status).toBe('cancelled');
    fs.writeFileSync(gate2, '');
    await waitUntilDead([resume.coordinatorPid]);
    expect((await f.show(id)).counts.done).toBe(0);
    expect((await f.show(id)).status).toBe('cancelled');

    // Still resumable, and it completes.
    const done = await f.json<RunJson>(['run', 'resume', id]);
    expect(done.status).toBe('completed');
    expect(done.counts.done).toBe(6);
    expect(f.items(id).every((item: ItemRow) => item.attempts === 1)).toBe(true);
    f.verify();
  });
});
