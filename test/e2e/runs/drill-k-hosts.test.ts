import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPostgresBinaries, startCluster, type Cluster } from '../../../scripts/pg-cluster.mjs';
import { drillLog } from './core-expectations.js';
import { createFixture, DRILL_TIMEOUT_MS, fixturesPerTest, type Fixture } from './harness.js';
import { makeNetwork, netnsSkipReason, type Network } from './netns.js';
import { pollFor } from './processes.js';
import { startArchivist, startRemoteWorker, type RemoteWorker } from './remote-workers.js';
import type { AssetJson, RunJson } from './types.js';

/**
 * Drill K (PRODUCT section 6, issue 12): three hosts, each a Linux network namespace with its own
 * hostname, joined to a bridge on which a PostgreSQL server listens. The coordinator runs on host-c, a
 * standalone `archivist worker` on host-a and on host-b; host-b sees the archive at another path, through
 * a bind mount in its own mount namespace, and says so with --map. The home, its store and the archive
 * are one filesystem every host sees (as a NAS share would be). Four scenarios: sharing one run; host-b's
 * link cut mid-run (its leases expire, the others finish, its late completions are refused and counted
 * when the link returns); the database server killed with SIGKILL and restarted; a wrong mapping refused
 * before any claim. Each ends checked through `run show --json`, `asset --json`, the store's integrity and
 * the archive's manifest.
 */

const binaries = findPostgresBinaries();
const skipReason = netnsSkipReason() || ('reason' in binaries ? binaries.reason : '');
const track = fixturesPerTest();
const HOSTS = ['host-c', 'host-a', 'host-b'];

describe.skipIf(skipReason !== '')(
  `drill K: several hosts${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let network: Network;
    let cluster: Cluster;

    beforeAll(async () => {
      network = makeNetwork(HOSTS);
      cluster = await startCluster({ listen: network.bridgeAddress, trust: network.subnet, durable: true });
    }, 60_000);

    afterAll(() => {
      cluster?.stop();
      network?.teardown();
    });

    async function newDatabase(): Promise<string> {
      const admin = new pg.Client({ connectionString: cluster.url });
      await admin.connect();
      const name = `drill_k_${Math.random().toString(36).slice(2, 10)}`;
      await admin.query(`create database ${name}`);
      await admin.end();
      return cluster.url.replace(/\/postgres$/, `/${name}`);
    }

    /** host-b's view of the archive: an empty folder of its own, with the archive bind-mounted onto it there. */
    function hostBView(f: Fixture, source = f.archive) {
      const target = path.join(f.root, 'host-b', 'photos');
      fs.mkdirSync(target, { recursive: true });
      return { target, mounts: [{ source, target }] };
    }

    async function startRun(f: Fixture, files: number, ms: number): Promise<string> {
      const started = startArchivist(
        ['--home', f.home, 'run', 'start', 'testsleep', '--collection', 'c', '--policy', 'production'].concat(
          ['--workers', '1', '--set', `write.ms=${ms}`, '--detach', '--json'],
        ),
        { env: f.env, prefix: network.prefix('host-c') },
      );
      const out = (await started.report()) as unknown as { id: string; coordinatorPid: number };
      f.track(out.coordinatorPid);
      void files;
      return out.id;
    }

    function worker(
      f: Fixture,
      host: 'host-a' | 'host-b',
      runId: string,
      view?: ReturnType<typeof hostBView>,
    ) {
      if (f.database.kind !== 'postgres') throw new Error('a PostgreSQL fixture');
      const args = ['--database', f.database.url, '--store', path.join(f.home, 'artifacts'), '--run', runId];
      args.push('--state', path.join(f.root, host, 'state'));
      if (view) args.push('--map', `archive=${view.target}`);
      const started = startRemoteWorker(args, { env: f.env, prefix: network.prefix(host, view?.mounts) });
      f.track(started.pid);
      return started;
    }

    const until = (what: string, condition: () => boolean) =>
      pollFor(what, () => condition() || undefined, 250);

    const byHost = (run: RunJson, host: string) => run.workerStats.filter((w) => w.host === host);
    const sum = (run: RunJson, host: string, key: 'claimed' | 'done' | 'refused') =>
      byHost(run, host).reduce((n, w) => n + w[key], 0);

    /** Every item done exactly once, one current artifact per (asset, step), shown by `asset`; store and archive whole. */
    async function expectWhole(f: Fixture, runId: string, files: number): Promise<RunJson> {
      const run = await f.show(runId);
      expect(run.status).toBe('completed');
      expect(run.counts).toMatchObject({ total: files, done: files, pending: 0, running: 0, failed: 0 });
      const items = f.items(runId);
      expect(new Set(items.map((i) => i.artifact_id)).size).toBe(files);
      const artifacts = f.artifacts(runId);
      expect(artifacts).toHaveLength(files);
      const current = f.query<{ asset_id: string; kind: string; n: number }>(
        'select asset_id, kind, count(*)::int as n from artifacts where is_current = 1 group by asset_id, kind',
      );
      expect(current).toHaveLength(files);
      for (const row of current) expect(row.n).toBe(1);
      for (const name of ['img-000.jpg', `img-${String(files - 1).padStart(3, '0')}.jpg`]) {
        const asset = await f.json<AssetJson>(['asset', path.join(f.archive, name)]);
        const made = asset.artifacts.filter((a) => a.step === 'write' && a.runId === runId);
        expect(made).toHaveLength(1);
        expect(made[0]!.lineage.inputs).toEqual([{ assetId: asset.id, sha256: asset.sha256 }]);
      }
      f.verify();
      return run;
    }

    it(
      '1. three hosts share one run: every item done once, each host did its part',
      { timeout: DRILL_TIMEOUT_MS },
      async () => {
        const f = track(
          await createFixture({ dialect: 'postgres', databaseUrl: await newDatabase(), files: 24 }),
        );
        const id = await startRun(f, 24, 700);
        const a = worker(f, 'host-a', id);
        const b = worker(f, 'host-b', id, hostBView(f));
        const [reportA, reportB] = await Promise.all([a.report(), b.report()]);
        expect(reportA.host).toBe('host-a');
        expect(reportB.checks[0]).toMatchObject({
          source: 'archive',
          root: path.join(f.root, 'host-b', 'photos'),
        });
        const run = await f.waitFor(id, (r) => r.status === 'completed', 'the run completed');
        drillLog('K1 three hosts', run);
        for (const host of HOSTS)
          expect(sum(run, host, 'done'), `${host} did part of the run`).toBeGreaterThan(0);
        expect(run.workerStats.reduce((n, w) => n + w.refused, 0)).toBe(0);
        for (const item of f.items(id)) expect(item.attempts).toBe(1);
        await expectWhole(f, id, 24);
      },
    );

    it(
      "2. host-b's link is cut mid-run: its leases expire, the others finish, its late completions are refused and counted",
      { timeout: DRILL_TIMEOUT_MS },
      async () => {
        const f = track(
          await createFixture({ dialect: 'postgres', databaseUrl: await newDatabase(), files: 12 }),
        );
        const id = await startRun(f, 12, 2500);
        const a = worker(f, 'host-a', id);
        const b = worker(f, 'host-b', id, hostBView(f));
        const heldByB = () =>
          f.query<{ id: number }>(
            "select id from work_items where run_id = ? and status = 'running' and lease_owner like 'host-b:%'",
            id,
          );
        await until('host-b holds an item', () => heldByB().length > 0);
        const held = heldByB().map((row) => row.id);
        network.cut('host-b');
        // Nothing reaches host-b now: its leases run out by the database's clock and the others take its items.
        const finished = await f.waitFor(id, (r) => r.status === 'completed', 'the others finished the run');
        expect(finished.counts.done).toBe(12);
        for (const itemId of held) {
          const item = f.items(id).find((i) => i.id === itemId)!;
          expect(item.status).toBe('done');
          expect(item.attempts, 'taken over after the lease expired').toBeGreaterThanOrEqual(2);
        }
        network.restore('host-b');
        // Back on the network, host-b commits what it finished while cut off: refused, by the epoch.
        await until(
          'host-b’s late completions refused',
          () =>
            f.query<{ n: number }>(
              "select coalesce(sum(refused), 0)::int as n from run_workers where run_id = ? and host = 'host-b'",
              id,
            )[0]!.n > 0,
        );
        expect((await b.exited).code).toBe(0);
        expect((await a.exited).code).toBe(0);
        const run = await expectWhole(f, id, 12);
        expect(sum(run, 'host-b', 'refused')).toBeGreaterThanOrEqual(1);
        for (const host of ['host-c', 'host-a']) expect(sum(run, host, 'refused')).toBe(0);
        // No refused result became an artifact: every artifact is the done item's own.
        const shown = await f.cli(['run', 'show', id]);
        // The excerpt for the record (ARCHIVIST_DRILL_LOG=1): the workers by host, host-b's refusals counted.
        if (process.env.ARCHIVIST_DRILL_LOG) process.stderr.write(`K2 run show:\n${shown.stdout}\n`);
        // HOST WORKER CLAIMED DONE FAILED SKIPPED GIVEN BACK REFUSED: five figures, then the refusals.
        expect(shown.stdout).toMatch(/host-b\s+host-b:\d+(\s+\d+){5}\s+[1-9]\d*/);
      },
    );

    it(
      '3. the database server is killed with SIGKILL mid-run and restarted: nothing lost, nothing doubled',
      { timeout: DRILL_TIMEOUT_MS },
      async () => {
        const f = track(
          await createFixture({ dialect: 'postgres', databaseUrl: await newDatabase(), files: 16 }),
        );
        const id = await startRun(f, 16, 800);
        const a = worker(f, 'host-a', id);
        const b = worker(f, 'host-b', id, hostBView(f));
        await f.waitFor(id, (r) => r.counts.done >= 4, 'a few items done');
        cluster.kill();
        await sleep(1_000);
        cluster.restart();
        const run = await f.waitFor(
          id,
          (r) => r.status === 'completed',
          'the run completed after the restart',
        );
        drillLog('K3 after the server restart', run);
        expect((await a.exited).code).toBe(0);
        expect((await b.exited).code).toBe(0);
        await expectWhole(f, id, 16);
      },
    );

    it(
      '4. a worker whose mapping shows other files is refused before it claims anything',
      { timeout: DRILL_TIMEOUT_MS },
      async () => {
        const f = track(
          await createFixture({ dialect: 'postgres', databaseUrl: await newDatabase(), files: 8 }),
        );
        const stale = path.join(f.root, 'stale-copy');
        fs.mkdirSync(stale);
        for (const name of fs.readdirSync(f.archive))
          fs.writeFileSync(path.join(stale, name), `other ${name}\n`);
        const id = await startRun(f, 8, 400);
        const a = worker(f, 'host-a', id);
        const b: RemoteWorker = worker(f, 'host-b', id, hostBView(f, stale));
        const refused = await b.exited;
        expect(refused.code).toBe(2);
        expect(refused.stderr).toContain(
          `source archive is not what the catalog saw at ${path.join(f.root, 'host-b', 'photos')}`,
        );
        expect((await a.exited).code).toBe(0);
        const run = await f.waitFor(id, (r) => r.status === 'completed', 'the run completed');
        expect(byHost(run, 'host-b')).toEqual([]);
        await expectWhole(f, id, 8);
      },
    );
  },
);
