import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { POSTGRES } from '../../helpers/postgres.js';
import { runCli } from '../../helpers/cli.js';
import {
  createFixture,
  DRILL_TIMEOUT_MS,
  fixturesPerTest,
  tmpfsUnavailable,
  type Fixture,
} from './harness.js';
import { pollFor } from './processes.js';
import { startRemoteWorker, type WorkerReport } from './remote-workers.js';
import type { RunJson } from './types.js';

/**
 * `archivist worker --database URL --store PATH --map SOURCE=PATH` (issue 12): a worker with no home, as
 * on another host, sees the archive at another path (a link to it here; a bind mount in the network
 * drill K) and the store as mounted, joins a running run, and follows it: cancel and a dead coordinator
 * reach it through the database; a wrong store or mapping is refused before it claims anything; a
 * wake-up hint (NOTIFY) brings an idle worker in long before its poll would.
 */

const track = fixturesPerTest();
const MiB = 1024 * 1024;
/** The disk-threshold test mounts a tmpfs of its own (needs root, as CI is). */
const NO_TMPFS = tmpfsUnavailable();

/** The remote host's view: the archive at another path, the store, a state folder of its own. */
function remoteView(f: Fixture): { args: string[]; root: string } {
  const root = path.join(f.root, 'remote-host');
  fs.mkdirSync(root, { recursive: true });
  const mounted = path.join(root, 'mnt-photos');
  if (!fs.existsSync(mounted)) fs.symlinkSync(f.archive, mounted);
  if (f.database.kind !== 'postgres') throw new Error('a PostgreSQL fixture');
  return {
    root,
    args: [
      '--database',
      f.database.url,
      '--store',
      path.join(f.home, 'artifacts'),
      '--map',
      `archive=${mounted}`,
      '--state',
      path.join(root, 'state'),
    ],
  };
}

function remoteFigures(f: Fixture, runId: string, pid: number) {
  return f.query<{ claimed: number; done: number; refused: number }>(
    'select claimed, done, refused from run_workers where run_id = ? and worker = ?',
    runId,
    `${os.hostname()}:${pid}`,
  )[0];
}

/** Until `condition` holds; each look at PostgreSQL is a child process, so a few a second. */
async function until(what: string, condition: () => boolean): Promise<void> {
  await pollFor(what, () => condition() || undefined, 250);
}

async function completed(f: Fixture, runId: string): Promise<RunJson> {
  return f.waitFor(runId, (run) => run.status === 'completed', 'the run completed');
}

describe.skipIf(POSTGRES.skipReason !== '')(
  `a worker on another host${POSTGRES.skipReason ? ` (skipped: ${POSTGRES.skipReason})` : ''}`,
  () => {
    it(
      'joins a running run through its mapping: every item done once, the worker listed',
      { timeout: DRILL_TIMEOUT_MS },
      async () => {
        const f = track(await createFixture({ dialect: 'postgres', files: 16 }));
        const view = remoteView(f);
        const { id } = await f.startDetached('testsleep', ['--workers', '1', '--set', 'write.ms=500']);
        const worker = startRemoteWorker([...view.args, '--run', id], { env: f.env });
        f.track(worker.pid);
        const report = await worker.report();
        expect(report.checks).toEqual([
          { source: 'archive', root: path.join(view.root, 'mnt-photos'), checked: 3 },
        ]);
        expect(report.runs).toEqual([expect.objectContaining({ run: id })]);
        const run = await completed(f, id);
        expect(run.counts).toMatchObject({ total: 16, done: 16, failed: 0, pending: 0, running: 0 });
        const remote = run.workerStats.find((w) => w.worker === `${os.hostname()}:${worker.pid}`);
        expect(remote?.done, 'the remote worker did part of the run').toBeGreaterThan(0);
        expect(run.workerStats.reduce((n, w) => n + w.done, 0)).toBe(16);
        expect(run.workerStats.reduce((n, w) => n + w.refused, 0)).toBe(0);
        // Each item once: one attempt, one artifact, made from the file the lineage names.
        for (const item of f.items(id)) expect(item).toMatchObject({ status: 'done', attempts: 1 });
        expect(f.artifacts(id)).toHaveLength(16);
        const human = await f.cli(['run', 'show', id]);
        expect(human.stdout).toMatch(/Workers \(\d+ on 1 host\)/);
        expect(human.stdout).toContain(`${os.hostname()}:${worker.pid}`);
        // A run that ended is refused, and the refused worker exits: its wake-up connection, still
        // being made when the refusal came, must not hold the process open (it once did, for ever).
        const late = startRemoteWorker([...view.args, '--run', id], { env: f.env });
        f.track(late.pid);
        const refused = await late.exited;
        expect(refused.code, refused.stderr).toBe(2);
        expect(refused.stderr).toContain(`run ${id} is completed; a worker joins a running run`);
        f.verify();
      },
    );

    it(
      'with --workers 2 runs two worker processes on the host, each listed',
      { timeout: DRILL_TIMEOUT_MS },
      async () => {
        const f = track(await createFixture({ dialect: 'postgres', files: 16 }));
        const view = remoteView(f);
        const { id } = await f.startDetached('testsleep', ['--workers', '1', '--set', 'write.ms=600']);
        const fleet = startRemoteWorker([...view.args, '--run', id, '--workers', '2'], { env: f.env });
        f.track(fleet.pid);
        const result = await fleet.exited;
        expect(result.code, result.stderr).toBe(0);
        const report = JSON.parse(result.stdout) as { checks: unknown[]; workers: WorkerReport[] };
        expect(report.checks).toHaveLength(1);
        expect(report.workers).toHaveLength(2);
        const ids = report.workers.map((w) => w.worker);
        expect(new Set(ids).size).toBe(2);
        expect(ids).not.toContain(`${os.hostname()}:${fleet.pid}`);
        const run = await completed(f, id);
        const remote = run.workerStats.filter((w) => ids.includes(w.worker));
        expect(remote.length, 'the host’s processes that got items').toBeGreaterThanOrEqual(1);
        expect(run.workerStats.reduce((n, w) => n + w.done, 0)).toBe(16);
        f.verify();
      },
    );

    it(
      'stops on a cancel it hears through the database, gives back its item, and the run resumes',
      { timeout: DRILL_TIMEOUT_MS },
      async () => {
        const f = track(await createFixture({ dialect: 'postgres', files: 10 }));
        const view = remoteView(f);
        const { id } = await f.startDetached('testsleep', ['--workers', '1', '--set', 'write.ms=1500']);
        const worker = startRemoteWorker([...view.args, '--run', id], { env: f.env });
        f.track(worker.pid);
        await until('the remote worker claimed', () => (remoteFigures(f, id, worker.pid)?.claimed ?? 0) > 0);
        const cancel = await f.json<RunJson>(['run', 'cancel', id]);
        expect(cancel.status).toBe('cancelled');
        // It exits by itself: nothing but the run's status in the database told it to.
        const report = await worker.report();
        expect(report.runs).toEqual([expect.objectContaining({ run: id, stopped: 'stopped' })]);
        expect(report.runs[0]!.reason).toMatch(/cancel/);
        const shown = await f.show(id);
        expect(shown.counts.running).toBe(0);
        expect(shown.workerStats.reduce((n, w) => n + w.refused, 0)).toBe(0);
        for (const item of f.items(id).filter((i) => i.status === 'pending')) expect(item.attempts).toBe(0);
        f.verify();
        const resumed = await f.cli(['run', 'resume', id, '--json']);
        expect(resumed.code, resumed.stderr).toBe(0);
        expect((JSON.parse(resumed.stdout) as RunJson).counts.done).toBe(10);
        f.verify();
      },
    );

    it(
      "refuses another archive's store and a mapping that shows other files, before any claim",
      { timeout: DRILL_TIMEOUT_MS },
      async () => {
        const f = track(await createFixture({ dialect: 'postgres', files: 6 }));
        const view = remoteView(f);
        const { id } = await f.startDetached('testsleep', ['--workers', '1', '--set', 'write.ms=300']);

        const other = path.join(view.root, 'other-home');
        expect((await runCli(['--home', other, 'init', '--json'])).code).toBe(0);
        const storeAt = view.args.indexOf('--store') + 1;
        const wrongStore = view.args.map((a, i) => (i === storeAt ? path.join(other, 'artifacts') : a));
        const refusedStore = await startRemoteWorker([...wrongStore, '--run', id], { env: f.env }).exited;
        expect(refusedStore.code).toBe(2);
        expect(refusedStore.stderr).toMatch(/belongs to archive .*, but the database .* is archive/);

        // The same names with other content: a stale copy, another share.
        const copy = path.join(view.root, 'stale-copy');
        fs.mkdirSync(copy);
        for (const name of fs.readdirSync(f.archive))
          fs.writeFileSync(path.join(copy, name), `not ${name}\n`);
        const mapAt = view.args.indexOf('--map') + 1;
        const wrongMap = view.args.map((a, i) => (i === mapAt ? `archive=${copy}` : a));
        const worker = startRemoteWorker([...wrongMap, '--run', id], { env: f.env });
        const refusedMap = await worker.exited;
        expect(refusedMap.code).toBe(2);
        expect(refusedMap.stderr).toContain(`source archive is not what the catalog saw at ${copy}`);
        expect(refusedMap.stderr).toMatch(/img-\d{3}\.jpg has \d+ bytes, cataloged \d+/);

        const missing = view.args.map((a, i) =>
          i === mapAt ? `archive=${path.join(view.root, 'nothing')}` : a,
        );
        const refusedMissing = await startRemoteWorker([...missing, '--run', id], { env: f.env }).exited;
        expect(refusedMissing.code).toBe(2);
        expect(refusedMissing.stderr).toMatch(/img-\d{3}\.jpg is not there/);

        const run = await completed(f, id);
        expect(run.workerStats.map((w) => w.worker)).not.toContain(`${os.hostname()}:${worker.pid}`);
        f.verify();
      },
    );

    it.skipIf(NO_TMPFS !== null)(
      `stops when the disk threshold pauses the run, and the run resumes${NO_TMPFS ? ` (skipped: ${NO_TMPFS})` : ''}`,
      { timeout: DRILL_TIMEOUT_MS },
      async () => {
        // The home on a filesystem of its own: its free space moves only with what this test writes.
        const f = track(await createFixture({ dialect: 'postgres', files: 24, tmpfsBytes: 64 * MiB }));
        const view = remoteView(f);
        const free = () => {
          const stats = fs.statfsSync(path.join(f.home, 'artifacts'));
          return stats.bavail * stats.bsize;
        };
        // Far more room than 24 tiny artifacts and their log lines take: only the filler below crosses it.
        const threshold = free() - 8 * MiB;
        const { id } = await f.startDetached('testsleep', [
          '--workers',
          '1',
          '--set',
          'write.ms=1000',
          '--min-free',
          String(threshold),
        ]);
        const worker = startRemoteWorker([...view.args, '--run', id], { env: f.env });
        f.track(worker.pid);
        // The disk fills only once this worker is in the run, so that the pause is what stops it.
        await until(
          'the remote worker claimed an item',
          () => (remoteFigures(f, id, worker.pid)?.claimed ?? 0) > 0,
        );
        const filler = path.join(path.dirname(f.home), 'filler');
        fs.writeFileSync(filler, Buffer.alloc(free() - threshold + MiB));
        const report = await worker.report();
        const [worked] = report.runs;
        // Whoever wrote first below the threshold paused the run; this worker stopped either way.
        expect(worked!.stopped === 'paused' || /run paused: disk-threshold/.test(worked!.reason ?? '')).toBe(
          true,
        );
        const paused = await f.waitFor(id, (r) => r.status === 'paused', 'the run paused');
        expect(paused.statusReason).toMatch(/^disk-threshold: /);
        expect(paused.counts.running).toBe(0);
        expect(paused.counts.failed).toBe(0);
        expect(paused.counts.pending).toBeGreaterThan(0);
        f.verify();
        fs.rmSync(filler);
        const resumed = await f.cli(['run', 'resume', id, '--json']);
        expect(resumed.code, resumed.stderr).toBe(0);
        expect((JSON.parse(resumed.stdout) as RunJson).counts.done).toBe(24);
        f.verify();
      },
    );

    it(
      'an idle worker is woken by the run start (NOTIFY), long before its poll',
      { timeout: DRILL_TIMEOUT_MS },
      async () => {
        const f = track(await createFixture({ dialect: 'postgres', files: 16 }));
        const view = remoteView(f);
        // An hour between looks: only a wake-up hint can bring it into a run that lasts seconds.
        const worker = startRemoteWorker([...view.args, '--all'], {
          env: { ...f.env, ARCHIVIST_WORKER_POLL_MS: '3600000' },
        });
        f.track(worker.pid);
        await until(
          'the idle worker is listening',
          () =>
            f.query<{ n: number }>(
              "select count(*)::int as n from pg_stat_activity where application_name = 'archivist-listen' and query ilike 'listen%'",
            )[0]!.n > 0,
        );
        const { id } = await f.startDetached('testsleep', ['--workers', '1', '--set', 'write.ms=500']);
        const run = await completed(f, id);
        const remote = remoteFigures(f, id, worker.pid);
        expect(remote?.done, 'the woken worker did part of the run').toBeGreaterThan(0);
        expect(run.counts.done).toBe(16);
        process.kill(worker.pid, 'SIGTERM');
        const exit = await worker.exited;
        expect(exit.code, exit.stderr).toBe(0);
        f.verify();
      },
    );

    it(
      'notices a coordinator killed with SIGKILL: the run is interrupted, what it committed stays',
      { timeout: DRILL_TIMEOUT_MS },
      async () => {
        const f = track(await createFixture({ dialect: 'postgres', files: 30 }));
        const view = remoteView(f);
        const { id, coordinatorPid } = await f.startDetached('testsleep', [
          '--workers',
          '1',
          '--set',
          'write.ms=1000',
        ]);
        const worker = startRemoteWorker([...view.args, '--run', id], { env: f.env });
        f.track(worker.pid);
        // Items of a second each, 30 of them: alone, the worker cannot finish the run before it notices
        // (after 10 s of silence) that the coordinator is gone, however fast the machine.
        await until('the remote worker committed', () => (remoteFigures(f, id, worker.pid)?.done ?? 0) >= 2);
        process.kill(coordinatorPid, 'SIGKILL');
        // Nobody runs a command meanwhile: the worker itself sees the heartbeat stop and records it.
        const report = await worker.report();
        expect(report.runs[0]!.reason).toMatch(/interrupted: coordinator silent/);
        const shown = await f.show(id);
        expect(shown.status).toBe('interrupted');
        const committed = remoteFigures(f, id, worker.pid)!.done;
        const done = f.items(id).filter((i) => i.status === 'done');
        expect(done.length).toBeGreaterThanOrEqual(committed);
        expect(f.artifacts(id)).toHaveLength(done.length);
        f.verify({ afterCrash: true });
        const resumed = await f.cli(['run', 'resume', id, '--json']);
        expect(resumed.code, resumed.stderr).toBe(0);
        const after = JSON.parse(resumed.stdout) as RunJson;
        expect(after.counts.done).toBe(30);
        // Done before the kill means done once: the resume did not redo them.
        for (const item of done)
          expect(f.items(id).find((i) => i.id === item.id)).toMatchObject({ artifact_id: item.artifact_id });
        f.verify();
      },
    );
  },
);
