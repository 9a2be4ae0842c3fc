import { setTimeout as sleep } from 'node:timers/promises';
import { expect, it } from 'vitest';
import { describeEachDialect } from '../../helpers/postgres.js';
import {
  drillLog,
  expectedCoreCounts,
  failuresOf,
  KNOWN_FAILURES,
  type ExpectedFailure,
} from './core-expectations.js';
import { createRealFixture, DRILL_TIMEOUT_MS, fixturesPerTest, type RealFixture } from './harness.js';
import { commandLine, descendantPids, isAlive, waitUntilDead } from './processes.js';
import { progressOf } from './run-progress.js';
import type { ArtifactRow, RunJson } from './types.js';

/**
 * Drill H (PRODUCT section 6; issue 14 "Done when"): chaos. A production `core` run over the real archive
 * (camera-sized JPEGs in every orientation, a 50 MP one, HEIC, H.264/HEVC clips, corrupt files) while a
 * random Archivist process, the coordinator, a worker or a tool a worker runs (exiftool, ffmpeg, ffprobe,
 * vipsthumbnail), gets SIGKILL every 2-3 s (random within those bounds, a bounded number of times). Each
 * time the coordinator dies the run is resumed, until it completes. Then: every item done or failed with
 * the reason its file deserves, exactly one current artifact per (asset, step), every artifact's file in
 * the store with its recorded hash, no file in the store without its row, the archive identical.
 *
 * The seed (printed) decides the victims and the intervals: ARCHIVIST_CHAOS_SEED=<seed> replays a run.
 * On both dialects; on PostgreSQL with fewer kills, so that the suite's second run of it stays short.
 */

const track = fixturesPerTest({ realMedia: true });

const KILLS = { sqlite: 10, postgres: 6 } as const;
const MIN_INTERVAL_MS = 2_000;
const MAX_INTERVAL_MS = 3_000;

/** mulberry32: small, seeded, good enough to pick victims. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Kind = 'coordinator' | 'worker' | 'tool';

/** The run's processes right now, by kind: the coordinator, its workers, and the tools they run. */
function census(coordinatorPid: number): Record<Kind, number[]> {
  const workers = descendantPids(coordinatorPid).filter(
    (pid) => isAlive(pid) && (commandLine(pid) ?? []).some((arg) => arg.endsWith('worker-process.js')),
  );
  const tools = workers.flatMap((w) => descendantPids(w)).filter(isAlive);
  return { coordinator: isAlive(coordinatorPid) ? [coordinatorPid] : [], worker: workers, tool: tools };
}

interface Kill {
  kind: Kind;
  pid: number;
  command: string;
}

const byKey = (f: Pick<ExpectedFailure, 'path' | 'step' | 'reason'>) => `${f.path} ${f.step} ${f.reason}`;

async function chaos(
  f: RealFixture,
  seed: number,
  maxKills: number,
): Promise<{ run: RunJson; kills: Kill[]; sessions: number }> {
  /** Sessions are bounded too: each kill of a coordinator costs one. */
  const maxSessions = maxKills + 2;
  const next = random(seed);
  const kills: Kill[] = [];
  const started = await f.startDetached('core', ['--workers', '2', '--policy', 'production']);
  const { id } = started;
  let { coordinatorPid } = started;
  let sessions = 1;
  for (;;) {
    const status = progressOf((sql, ...params) => f.query(sql, ...params), id).status;
    if (status === 'completed') break;
    if (!isAlive(coordinatorPid)) {
      // Its workers and their tools follow it; then a command notices and the run is resumed.
      await waitUntilDead(descendantPids(coordinatorPid));
      const shown = await f.show(id);
      if (shown.status === 'completed') break;
      expect(shown.status, shown.statusReason ?? '').toBe('interrupted');
      expect(sessions, 'sessions').toBeLessThan(maxSessions);
      const resumed = await f.json<{ coordinatorPid: number }>(['run', 'resume', id, '--detach']);
      coordinatorPid = resumed.coordinatorPid;
      f.track(coordinatorPid);
      sessions++;
      continue;
    }
    if (kills.length >= maxKills) {
      // No more kills: the run is left to finish (bounded by the test's own limit, not WAIT_MS: on a
      // loaded machine what is left of a camera-sized run can take longer than a minute).
      await sleep(500);
      continue;
    }
    await sleep(MIN_INTERVAL_MS + next() * (MAX_INTERVAL_MS - MIN_INTERVAL_MS));
    const alive = census(coordinatorPid);
    // The kind first (a tool or a worker more often than the coordinator), then one of that kind.
    const roll = next();
    const wanted: Kind = roll < 0.2 ? 'coordinator' : roll < 0.6 ? 'worker' : 'tool';
    const kind = ([wanted, 'tool', 'worker', 'coordinator'] as const).find((k) => alive[k].length > 0);
    if (!kind) continue;
    const pid = alive[kind][Math.floor(next() * alive[kind].length)]!;
    const command = (commandLine(pid) ?? []).map((arg) => arg.split('/').at(-1)).join(' ');
    try {
      process.kill(pid, 'SIGKILL');
      kills.push({ kind, pid, command });
    } catch {
      // gone meanwhile
    }
  }
  return { run: await f.show(id), kills, sessions };
}

describeEachDialect('drill H: chaos', (dialect) => {
  it(
    'a production run with a random process SIGKILLed every 2-3 s, resumed until completed, keeps the store exact',
    { timeout: DRILL_TIMEOUT_MS },
    async () => {
      const seed = Number(process.env.ARCHIVIST_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
      console.log(`drill H on ${dialect.name}: seed ${seed} (ARCHIVIST_CHAOS_SEED=${seed} replays it)`);
      // More attempts than kills: however the kills fall on one slow item (a HEIC in vipsthumbnail, a
      // video), its attempts cannot run out, so every good file must end done.
      const maxKills = KILLS[dialect.name];
      const f = track(
        await createRealFixture({
          dialect: dialect.name,
          config: (c) => (c.runs = { ...c.runs, maxAttempts: maxKills + 2 }),
        }),
      );
      const { run, kills, sessions } = await chaos(f, seed, maxKills);
      console.log(
        `drill H: ${kills.length} kills in ${sessions} sessions: ${kills.map((k) => `${k.kind} (${k.command.slice(0, 40)})`).join(', ')}`,
      );
      drillLog('H completed', run);
      expect(kills.length).toBeGreaterThan(0);

      // Every item accounted for: the archive's broken files fail with their reasons (perhaps after a
      // killed attempt or two); every good file is done, whatever was killed while it was worked on (a
      // tool killed by a signal is tried again, like a killed worker).
      expect(run.status).toBe('completed');
      expect(failuresOf(run).map(byKey).sort()).toEqual(KNOWN_FAILURES.map(byKey).sort());
      const expected = expectedCoreCounts(f.model, KNOWN_FAILURES, 0);
      expect(run.counts).toEqual(expected.counts);
      const items = f.items(run.id);
      for (const item of items) expect(['done', 'failed', 'skipped']).toContain(item.status);

      // Exactly one current artifact per (asset, step), and it is what the done item names.
      const artifacts = f.artifacts(run.id);
      const current = artifacts.filter((a) => a.is_current === 1);
      const key = (a: Pick<ArtifactRow, 'asset_id' | 'step'>) => `${a.asset_id} ${a.step}`;
      expect(new Set(current.map(key)).size).toBe(current.length);
      const done = items.filter((i) => i.status === 'done');
      expect(current.map((a) => a.id).sort()).toEqual(done.map((i) => i.artifact_id).sort());
      expect(artifacts).toHaveLength(done.length);
      expect(run.stats.workerCrashes).toBeLessThanOrEqual(kills.length);

      // Each row's file is there with its hash, no file is there without its row, the archive is as it was.
      f.verify();
      await f.expectNoProcessLeft();
    },
  );
});
