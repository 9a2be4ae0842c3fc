import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeAll, expect } from 'vitest';
import { archiveManifest, type ManifestEntry } from '../../helpers/archive-manifest.js';
import { REPO_ROOT, runCli, tempDir, type CliResult } from '../../helpers/cli.js';
import { queryDatabase, type TestDatabase } from '../../helpers/db-query.js';
import { newPostgresDatabase } from '../../helpers/postgres.js';
import { archiveModel, type ArchiveModel } from './core-expectations.js';
import {
  childPids,
  commandLine,
  isAlive,
  killIfAlive,
  processesUsing,
  processesWithEnv,
  ProcessCensus,
  waitUntilDead,
  WAIT_MS,
} from './processes.js';
import { copyRealMedia, GENERATE_TIMEOUT_MS, generatedMedia } from './real-media.js';
import { artifactFiles, checkStore } from './store-check.js';
import { progressOf, type RunProgress } from './run-progress.js';
import type { ArtifactRow, AssetJson, ItemRow, RunJson } from './types.js';

/**
 * The run engine's end-to-end harness (issues 3 and 6): a temporary archive, a temporary home with that
 * archive cataloged as source `archive` and a collection `c` over every asset, and the built CLI run as
 * child processes. The archive is either real media (real-media.ts: what the drills use, with the real
 * `core` pipeline) or, for tests that need a test-only pipeline of test/support/test-pipelines.mjs, a
 * few tiny files that only look like JPEGs. Nothing here waits a fixed time for a state: `waitFor` polls
 * until `run show --json` satisfies a predicate, with a generous limit.
 */

export const TEST_PIPELINES = path.join(REPO_ROOT, 'test', 'support', 'test-pipelines.mjs');
/**
 * Set to the fixture's folder in the environment of every command the fixture runs. Children inherit it,
 * so every process started for the fixture can be found, even one orphaned by the death of its parent.
 */
export const FIXTURE_ENV = 'ARCHIVIST_DRILL_FIXTURE';
export { WAIT_MS };
/**
 * The time limit of a drill on real media: a few `core` runs, each waited for with WAIT_MS, on a shared
 * 2-core machine that may be busy with other work (vitest's default of 2 minutes is for the rest).
 */
export const DRILL_TIMEOUT_MS = 300_000;

/** Small files that sniff as JPEG images (magic bytes), each with its own content and so its own asset. */
export function smallJpeg(name: string): Buffer {
  return Buffer.concat([
    Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10]),
    Buffer.from(`archivist test ${name}\n`),
  ]);
}

/** Which truth store the fixture's home uses: its own SQLite file (the default), or a new PostgreSQL database. */
export type FixtureDialect = 'sqlite' | 'postgres';

export interface FixtureOptions {
  dialect?: FixtureDialect;
  /** An empty PostgreSQL database to make the home with, instead of a new one on the tests' server. */
  databaseUrl?: string;
  /** The home on a tmpfs of its own (see RealFixtureOptions.tmpfsBytes). */
  tmpfsBytes?: number;
  /** Plain tiny files, named `img-000.jpg`, `img-001.jpg`, ... (default 6). */
  files?: number;
  /** Extra tiny files by relative path (e.g. `crash-marker.jpg`), generated like the others. */
  extra?: readonly string[];
  /** Changes to the home's config.json (written by `init`), applied before the catalog. */
  config?: (config: Record<string, Record<string, unknown>>) => void;
}

export interface RealFixtureOptions {
  dialect?: FixtureDialect;
  /** Adds the poison file (real-media.ts) that the `testpoison` pipeline crashes on. */
  poison?: boolean;
  /**
   * The home on a filesystem of its own (a tmpfs under /dev/shm where there is one), so that its free
   * space moves only with what Archivist writes there: the disk drill sets a threshold a few hundred KB
   * below it, which other processes writing to a shared disk would cross at random.
   */
  privateDisk?: boolean;
  /**
   * The home on a small tmpfs of this many bytes, mounted by the fixture in its folder and unmounted by
   * `cleanup` (drill I: a really full disk). Needs root; `tmpfsUnavailable()` says why it cannot.
   */
  tmpfsBytes?: number;
  /** Changes to the home's config.json, applied before the catalog. */
  config?: FixtureOptions['config'];
}

/** Why a tmpfs cannot be mounted here (not root, no mount), or null when it can. */
export function tmpfsUnavailable(): string | null {
  const { dir, cleanup } = tempDir('archivist-tmpfs-probe-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'pipe' });
    execFileSync('umount', [dir], { stdio: 'pipe' });
    return null;
  } catch (error) {
    return `cannot mount a tmpfs: ${(error as Error).message.split('\n')[0]}`;
  } finally {
    cleanup();
  }
}

export interface Fixture {
  root: string;
  /** The home's database, for direct reads. */
  database: TestDatabase;
  archive: string;
  home: string;
  env: NodeJS.ProcessEnv;
  /** Runs the built CLI against this home (`extraEnv` on top of the fixture's environment). */
  cli(args: readonly string[], extraEnv?: NodeJS.ProcessEnv): Promise<CliResult>;
  /** Runs the CLI with --json, expects exit 0 (or `expectCode`) and parses stdout. */
  json<T>(args: readonly string[], expectCode?: number, extraEnv?: NodeJS.ProcessEnv): Promise<T>;
  show(runId: string): Promise<RunJson>;
  /**
   * Waits until `predicate` holds for `run show --json`, and returns that. The database is polled in the
   * meantime (read-only, cheap) and the CLI asked only once it says the moment has come: a CLI process
   * every few hundred milliseconds would take a good part of a 2-core machine from the run it watches.
   * Fails with the last state after WAIT_MS.
   */
  waitFor(runId: string, predicate: (run: RunProgress) => boolean, what: string): Promise<RunJson>;
  /** `run start <pipeline> --collection c <args> --detach --json`. */
  startDetached(
    pipeline: string,
    args: readonly string[],
    extraEnv?: NodeJS.ProcessEnv,
  ): Promise<{ id: string; coordinatorPid: number }>;
  /** Remembers a process the test started, so that `cleanup` kills it (and its children) if it is still alive. */
  track(pid: number): void;
  /** Reads the database with a read-only connection that is closed again at once. */
  query<T>(sql: string, ...params: unknown[]): T[];
  items(runId: string): ItemRow[];
  artifacts(runId?: string): ArtifactRow[];
  /** Relative paths of every file in the artifact store. */
  storeFiles(): string[];
  /** Absolute path of an artifact's file, from its store path. */
  storeFile(artifactPath: string): string;
  /** The run's JSON-lines log (logs/run-<id>.jsonl), parsed. */
  runLog(runId: string): Record<string, unknown>[];
  assetByPath(rel: string): Promise<AssetJson>;
  /**
   * The archive is exactly as it was, and the store is whole (see `checkStore`); `afterCrash`: right after
   * a kill, files stored but not committed are allowed.
   */
  verify(options?: { afterCrash?: boolean }): void;
  /**
   * Once nothing of this fixture should be running any more: every process started for it (the CLI, a
   * coordinator, workers, the tools they ran, orphans included) exits. Found by FIXTURE_ENV in their
   * environment and by a census of the processes working for the home (see ProcessCensus).
   */
  expectNoProcessLeft(): Promise<void>;
  /** Kills what the fixture started and is still alive, then removes the temporary folders. */
  cleanup(): Promise<void>;
}

export interface RealFixture extends Fixture {
  /** What the archive holds, worked out from its files (core-expectations.ts). */
  model: ArchiveModel;
}

/** A fixture over tiny fake files, for the tests that need a test-only pipeline. */
export async function createFixture(options: FixtureOptions = {}): Promise<Fixture> {
  const names = [
    ...Array.from({ length: options.files ?? 6 }, (_, i) => `img-${String(i).padStart(3, '0')}.jpg`),
    ...(options.extra ?? []),
  ];
  const { fixture } = await setUp({
    dialect: options.dialect,
    databaseUrl: options.databaseUrl,
    tmpfsBytes: options.tmpfsBytes,
    layOut(archive) {
      for (const name of names) {
        const file = path.join(archive, ...name.split('/'));
        fs.mkdirSync(path.dirname(file), { recursive: true });
        // Images sniff as JPEG by their magic bytes; anything else is plain text (media type `other`).
        fs.writeFileSync(file, name.endsWith('.jpg') ? smallJpeg(name) : `archivist test ${name}\n`);
      }
      return Promise.resolve();
    },
    config: options.config,
    checkCatalog(summary) {
      expect(summary.new).toBe(names.length);
      expect(summary.errors).toEqual([]);
    },
  });
  return fixture;
}

/**
 * The set-up every drill file shares: the generated media made once for the file (`realMedia`: it takes
 * a while the first time on a machine, so not inside a test's timeout), and each test's fixture removed
 * after it, processes and all, whether the test passed or not. Returns `track`, which takes a fixture
 * as it is made and hands it back.
 */
export function fixturesPerTest(options: { realMedia?: boolean } = {}): <F extends Fixture>(fixture: F) => F {
  let current: Fixture | undefined;
  if (options.realMedia) {
    beforeAll(async () => {
      await generatedMedia();
    }, GENERATE_TIMEOUT_MS);
  }
  afterEach(async (context) => {
    // A failure on CI can only be read from its output: what each run's processes logged, in short.
    if (current && context.task.result?.state === 'fail')
      for (const logs of logFolders(current.root)) printRunLogs(logs);
    await current?.cleanup();
    current = undefined;
  });
  return (fixture) => {
    current = fixture;
    return fixture;
  };
}

/** Every `logs` folder of the fixture: its home's, and those of the workers started as on other hosts. */
function logFolders(root: string): string[] {
  return fs
    .readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name === 'logs')
    .map((e) => path.join(e.parentPath, e.name));
}

/** The last events of every run log in a folder, one line each, on stderr (for a failed test). */
function printRunLogs(logs: string, lastEvents = 60): void {
  for (const name of fs.readdirSync(logs).filter((n) => n.endsWith('.jsonl'))) {
    const lines = fs.readFileSync(path.join(logs, name), 'utf8').split('\n').filter(Boolean);
    const shown = lines.slice(-lastEvents).map((line) => {
      try {
        const { time, level, msg, pid, ...rest } = JSON.parse(line) as Record<string, unknown>;
        delete rest.hostname;
        return `${String(time)} ${String(level)} ${String(pid)} ${String(msg)} ${JSON.stringify(rest)}`;
      } catch {
        return line;
      }
    });
    console.error(
      `--- ${path.join(logs, name)} (last ${shown.length} of ${lines.length} events)\n${shown.join('\n')}`,
    );
  }
}

/**
 * What a resume must leave alone: every item done before it is still done with the same artifact, finish
 * time and its one attempt, and every artifact row made before it is there unchanged; the run has one
 * artifact per done item.
 */
export function expectNothingRedone(
  f: Fixture,
  runId: string,
  before: { items: readonly ItemRow[]; artifacts: readonly ArtifactRow[] },
  done: number,
): ArtifactRow[] {
  const after = f.items(runId);
  for (const item of before.items.filter((i) => i.status === 'done')) {
    expect(after.find((i) => i.id === item.id)).toMatchObject({
      status: 'done',
      artifact_id: item.artifact_id,
      finished_at: item.finished_at,
      attempts: 1,
    });
  }
  const artifacts = f.artifacts(runId);
  expect(artifacts).toHaveLength(done);
  for (const artifact of before.artifacts) expect(artifacts).toContainEqual(artifact);
  return artifacts;
}

/** A fixture over the real archive (real-media.ts); the catalog is checked against the archive's model. */
export async function createRealFixture(options: RealFixtureOptions = {}): Promise<RealFixture> {
  const { fixture, manifest } = await setUp({
    dialect: options.dialect,
    layOut: (archive) => copyRealMedia(archive, { poison: options.poison }),
    privateDisk: options.privateDisk,
    tmpfsBytes: options.tmpfsBytes,
    config: options.config,
    checkCatalog(summary, entries) {
      const m = archiveModel(entries);
      expect(summary.new).toBe(m.locations);
      expect(summary.errors.map(({ path: p, reason }) => ({ path: p, reason }))).toEqual(
        m.empty.map((p) => ({ path: p, reason: 'empty-file' })),
      );
    },
  });
  const model = archiveModel(manifest);
  // Archivist's view of the assets is the archive's: the same contents, typed the same way.
  const assets = await fixture.json<AssetJson[]>(['assets']);
  expect(new Map(assets.map((a) => [a.id, a.mediaType]))).toEqual(
    new Map([...model.assets].map(([id, a]) => [id, a.mediaType])),
  );
  return { ...fixture, model };
}

interface CatalogSummary {
  new: number;
  errors: { path: string; reason: string }[];
}

async function setUp(spec: {
  dialect?: FixtureDialect;
  databaseUrl?: string;
  layOut: (archive: string) => Promise<void>;
  config?: FixtureOptions['config'];
  privateDisk?: boolean;
  tmpfsBytes?: number;
  checkCatalog: (summary: CatalogSummary, manifest: readonly ManifestEntry[]) => void;
}): Promise<{ fixture: Fixture; manifest: readonly ManifestEntry[] }> {
  const { dir: root, cleanup: removeRoot } = tempDir('archivist-runs-');
  const archive = path.join(root, 'archive');
  fs.mkdirSync(archive);
  await spec.layOut(archive);
  const manifest = archiveManifest(archive);

  let home = path.join(root, 'home');
  let removeHome = () => undefined as void;
  if (spec.tmpfsBytes !== undefined) {
    const disk = path.join(root, 'disk');
    fs.mkdirSync(disk);
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${spec.tmpfsBytes}`, 'tmpfs', disk]);
    home = path.join(disk, 'home');
    // Lazily: a process of a failed drill may still hold a file there; it is killed just before.
    removeHome = () => execFileSync('umount', ['-l', disk]);
  } else if (spec.privateDisk && fs.existsSync('/dev/shm')) {
    home = fs.realpathSync(fs.mkdtempSync(path.join('/dev/shm', 'archivist-home-')));
    removeHome = () => fs.rmSync(home, { recursive: true, force: true });
  }
  const env = { ARCHIVIST_PIPELINE_MODULES: TEST_PIPELINES, [FIXTURE_ENV]: root };
  const census = new ProcessCensus(home);
  const ours = () => [
    ...new Set([...processesWithEnv(FIXTURE_ENV, root).filter(isAlive), ...census.alive()]),
  ];
  const started: number[] = [];

  const cli = (args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}) =>
    runCli(args, { home, env: { ...env, ...extraEnv } });
  const json = async <T>(
    args: readonly string[],
    expectCode = 0,
    extraEnv?: NodeJS.ProcessEnv,
  ): Promise<T> => {
    const result = await cli([...args, '--json'], extraEnv);
    if (result.code !== expectCode) {
      throw new Error(
        `archivist ${args.join(' ')} exited ${result.code} (expected ${expectCode})\n${result.stderr}\n${result.stdout}`,
      );
    }
    return JSON.parse(result.stdout) as T;
  };
  const show = (runId: string) => json<RunJson>(['run', 'show', runId]);
  const database: TestDatabase =
    spec.dialect === 'postgres'
      ? { kind: 'postgres', url: spec.databaseUrl ?? (await newPostgresDatabase()) }
      : { kind: 'sqlite', file: path.join(home, 'archivist.db') };
  const query = <T>(sql: string, ...params: unknown[]): T[] => queryDatabase<T>(database, sql, params);

  await json(['init', ...(database.kind === 'postgres' ? ['--database', database.url] : [])]);
  if (spec.config) {
    const file = path.join(home, 'config.json');
    const config = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, Record<string, unknown>>;
    spec.config(config);
    fs.writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
  }
  await json(['source', 'add', 'archive', archive]);
  const [summary] = await json<CatalogSummary[]>(['catalog']);
  spec.checkCatalog(summary!, manifest);
  await json(['collection', 'create', 'c']);

  const fixture: Fixture = {
    root,
    database,
    archive,
    home,
    env,
    cli,
    json,
    show,
    async waitFor(runId, predicate, what) {
      const deadline = Date.now() + WAIT_MS;
      let last: RunProgress | undefined;
      while (Date.now() < deadline) {
        last = progressOf(query, runId);
        if (predicate(last)) {
          const shown = await show(runId);
          if (predicate(shown)) return shown;
          last = shown;
        }
        await sleep(100);
      }
      throw new Error(
        `run ${runId}: gave up waiting for ${what} after ${WAIT_MS / 1000} s; last state ${JSON.stringify(last?.status)} ${JSON.stringify(last?.counts)}`,
      );
    },
    async startDetached(pipeline, args, extraEnv) {
      const out = await json<{ id: string; coordinatorPid: number; detached: boolean }>(
        ['run', 'start', pipeline, '--collection', 'c', ...args, '--detach'],
        0,
        extraEnv,
      );
      expect(out.detached).toBe(true);
      expect(out.coordinatorPid).toBeGreaterThan(0);
      started.push(out.coordinatorPid);
      return { id: out.id, coordinatorPid: out.coordinatorPid };
    },
    track: (pid) => started.push(pid),
    query,
    items: (runId) => query<ItemRow>('select * from work_items where run_id = ? order by id', runId),
    artifacts: (runId) =>
      runId === undefined
        ? query<ArtifactRow>('select * from artifacts order by id')
        : query<ArtifactRow>('select * from artifacts where run_id = ? order by id', runId),
    storeFiles: () => artifactFiles(path.join(home, 'artifacts')),
    storeFile: (artifactPath) => path.join(home, 'artifacts', ...artifactPath.split('/')),
    runLog: (runId) =>
      fs
        .readFileSync(path.join(home, 'logs', `run-${runId}.jsonl`), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    async assetByPath(rel) {
      return json<AssetJson>(['asset', path.join(archive, ...rel.split('/'))]);
    },
    verify(options) {
      expect(archiveManifest(archive), 'the archive changed').toEqual(manifest);
      checkStore(home, database, options);
    },
    async expectNoProcessLeft() {
      const left = await waitUntilDead(ours()).then(
        () => [],
        () => ours(),
      );
      expect(
        left.map((pid) => `${pid}: ${commandLine(pid)?.join(' ')}`),
        'processes of this fixture still running',
      ).toEqual([]);
    },
    async cleanup() {
      // Only what this fixture started: its detached coordinators and their workers, any process still
      // working on this fixture's home, and anything else carrying its environment (a tool orphaned by
      // a killed worker, a worker orphaned by a failed drill).
      const leftovers = [
        ...started,
        ...started.flatMap((pid) => childPids(pid)),
        ...processesUsing(home),
        ...ours(),
      ];
      census.stop();
      for (const pid of leftovers) killIfAlive(pid);
      await waitUntilDead(leftovers).catch(() => undefined);
      removeHome();
      removeRoot();
    },
  };
  return { fixture, manifest };
}
