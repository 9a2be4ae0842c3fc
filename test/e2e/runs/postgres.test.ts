import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../../helpers/cli.js';
import { POSTGRES, newPostgresDatabase } from '../../helpers/postgres.js';
import { drillLog, expectCoreCompleted } from './core-expectations.js';
import { createRealFixture, DRILL_TIMEOUT_MS, fixturesPerTest } from './harness.js';
import type { RunJson } from './types.js';

/**
 * PostgreSQL as the truth store (issue 12), through the built CLI as a user drives it: a home made with
 * `init --database postgres://...` runs the real `core` pipeline over the real archive exactly as a SQLite
 * home does; `doctor` reports the server; a home or database of another archive is refused.
 */

const track = fixturesPerTest({ realMedia: true });

describe.skipIf(POSTGRES.skipReason !== '')(
  `a PostgreSQL home${POSTGRES.skipReason ? ` (skipped: ${POSTGRES.skipReason})` : ''}`,
  () => {
    it(
      'runs core to completion: every item accounted for, artifacts with lineage, workers listed by host',
      { timeout: DRILL_TIMEOUT_MS },
      async () => {
        const f = track(await createRealFixture({ dialect: 'postgres' }));
        const config = JSON.parse(fs.readFileSync(path.join(f.home, 'config.json'), 'utf8')) as {
          database?: { url?: string };
        };
        expect(config.database?.url).toMatch(/^postgres:\/\//);
        expect(fs.existsSync(path.join(f.home, 'archivist.db'))).toBe(false);

        const result = await f.cli([
          'run',
          'start',
          'core',
          '--collection',
          'c',
          '--policy',
          'production',
          '--workers',
          '2',
          '--json',
        ]);
        // Exit 3: finished, with the archive's broken files failed for their reasons.
        expect(result.code, result.stderr).toBe(3);
        const run = JSON.parse(result.stdout) as RunJson;
        drillLog('PostgreSQL core run', run);
        expectCoreCompleted(run, f.model);
        const artifacts = f.artifacts(run.id);
        expect(artifacts).toHaveLength(run.counts.done);
        for (const artifact of artifacts) expect(artifact.is_current).toBe(1);
        // Lineage names what ran, as on SQLite (timestamptz comes back as the same ISO strings).
        const [first] = artifacts;
        const shown = await f.json<{ lineage: { runId: string; createdAt: string; worker: string } }>([
          'artifact',
          first!.id,
        ]);
        expect(shown.lineage.runId).toBe(run.id);
        expect(shown.lineage.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        // Every worker process that took part, by host, with its figures; nothing was refused.
        const shownRun = await f.show(run.id);
        expect(shownRun.workerStats.length).toBeGreaterThanOrEqual(2);
        const sum = (key: 'claimed' | 'done' | 'refused') =>
          shownRun.workerStats.reduce((n, w) => n + w[key], 0);
        expect(sum('refused')).toBe(0);
        expect(sum('done')).toBe(run.counts.done);
        expect(sum('claimed')).toBeGreaterThanOrEqual(run.counts.done + run.counts.failed);
        for (const worker of shownRun.workerStats) {
          expect(worker.worker.startsWith(`${worker.host}:`)).toBe(true);
          expect(Date.parse(worker.lastHeartbeatAt)).toBeGreaterThan(0);
        }
        f.verify();

        const doctor = await f.cli(['doctor', '--json']);
        const report = JSON.parse(doctor.stdout) as {
          database: {
            kind: string;
            ok: boolean;
            path: string;
            server: { version: string; latencyMs: number; pool: { max: number } };
            migrations: { applied: string[]; pending: string[] };
          };
        };
        expect(report.database).toMatchObject({ kind: 'postgres', ok: true });
        expect(report.database.server.version).toMatch(/^\d+\.\d+/);
        expect(report.database.server.latencyMs).toBeGreaterThanOrEqual(0);
        expect(report.database.server.pool.max).toBeGreaterThan(0);
        expect(report.database.migrations.applied).toContain('0005-fenced-leases');
        expect(report.database.migrations.pending).toEqual([]);
        const human = await f.cli(['doctor']);
        expect(human.stdout).toMatch(/PostgreSQL \d+\.\d+.* at postgres:\/\/.*latency .* ms, pool/);
      },
    );

    it('refuses a database that already holds an archive, and a home whose store is of another archive', async () => {
      const { dir, cleanup } = tempDir('archivist-pg-identity-');
      try {
        const url = await newPostgresDatabase();
        const homeA = path.join(dir, 'a');
        const homeB = path.join(dir, 'b');
        const init = (home: string, database: string) =>
          runCli(['init', '--database', database, '--json'], { home });
        const a = await init(homeA, url);
        expect(a.code, a.stderr).toBe(0);
        const archiveA = (JSON.parse(a.stdout) as { archiveId: string }).archiveId;
        expect(fs.readFileSync(path.join(homeA, 'artifacts', '.archivist-store-id'), 'utf8').trim()).toBe(
          archiveA,
        );

        // A second home on the same database would be a second truth about the same rows.
        const twice = await init(homeB, url);
        expect(twice.code).toBe(2);
        expect(twice.stderr).toMatch(/already holds an archive/);
        expect(fs.readdirSync(homeB)).toEqual([]); // nothing of the refused home is left

        // A home of archive B pointed at archive A's database: its store is B's, and is refused.
        const b = await init(homeB, await newPostgresDatabase());
        expect(b.code, b.stderr).toBe(0);
        const configFile = path.join(homeB, 'config.json');
        const config = JSON.parse(fs.readFileSync(configFile, 'utf8')) as { database: { url: string } };
        config.database.url = url;
        fs.writeFileSync(configFile, JSON.stringify(config));
        const mixed = await runCli(['source', 'list'], { home: homeB });
        expect(mixed.code).toBe(2);
        expect(mixed.stderr).toMatch(
          new RegExp(`belongs to archive .*, but the database .* is archive ${archiveA}`),
        );
      } finally {
        cleanup();
      }
    });
  },
);
