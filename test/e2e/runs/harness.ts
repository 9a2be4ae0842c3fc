import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import BetterSqlite3 from 'better-sqlite3';
import { expect } from 'vitest';
import { archiveManifest, type ManifestEntry } from '../../helpers/archive-manifest.js';
import { REPO_ROOT, runCli, tempDir, type CliResult } from '../../helpers/cli.js';

/**
 * The run engine's end-to-end harness (issues 3 and 6): a temporary archive of small generated files, a
 * temporary home with that archive cataloged and a collection `c` over every asset, and the built CLI run
 * as child processes with the test-only pipelines of test/support/test-pipelines.mjs. Nothing here waits a
 * fixed time for a state: `waitFor` polls `run show --json` until a predicate holds, with a generous limit.
 */

export const TEST_PIPELINES = path.join(REPO_ROOT, 'test', 'support', 'test-pipelines.mjs');

/** How long a drill may wait for a state before it is a failure (a noisy 2-core machine is slow, not stuck). */
export const WAIT_MS = 60_000;

export interface StepCounts {
  total: number;
  pending: number;
  running: number;
  done: number;
  failed: number;
  skipped: number;
  reused: number;
}

export interface RunJson {
  id: string;
  status: 'queued' | 'running' | 'cancelling' | 'cancelled' | 'paused' | 'interrupted' | 'completed';
  statusReason: string | null;
  pipeline: { name: string; version: number };
  policy: 'sandbox' | 'production';
  params: Record<string, Record<string, unknown>>;
  toolVersions: Record<string, { name: string; version: string }>;
  collection: string | null;
  parentRunId: string | null;
  minFree: { bytes: number; spec: string };
  workers: number;
  maxAttempts: number;
  itemTimeoutSec: number;
  force: boolean;
  counts: StepCounts;
  steps: Record<string, StepCounts>;
  failures: {
    itemId: number;
    assetId: string;
    path: string | null;
    step: string;
    attempts: number;
    reason: string;
    message: string | null;
    stderrTail: string | null;
  }[];
  stats: Record<string, unknown> & { startedAt: string | null; finishedAt: string | null };
}

export interface AssetJson {
  id: string;
  mediaType: string;
  size: number;
  sha256: string;
  locations: { source: string; path: string; status: string }[];
  artifacts: ArtifactJson[];
}

export interface ArtifactJson {
  id: string;
  kind: string;
  step: string;
  assetId: string;
  runId: string;
  sha256: string;
  size: number;
  mime: string;
  path: string;
  current: boolean;
  lineage: {
    runId: string;
    pipeline: string;
    step: string;
    tool: { name: string; version: string };
    params: Record<string, unknown>;
    inputs: { assetId: string; sha256: string; artifactId?: string }[];
  };
}

/** A work item as the database holds it (read-only, straight from SQLite). */
export interface ItemRow {
  id: number;
  run_id: string;
  asset_id: string;
  step: string;
  status: 'pending' | 'running' | 'done' | 'failed' | 'skipped';
  attempts: number;
  lease_owner: string | null;
  started_at: string | null;
  finished_at: string | null;
  reason: string | null;
  message: string | null;
  stderr_tail: string | null;
  artifact_id: string | null;
  reused: number;
}

export interface ArtifactRow {
  id: string;
  kind: string;
  step: string;
  asset_id: string;
  run_id: string;
  sha256: string;
  size: number;
  path: string;
  cache_key: string;
  policy: string;
  is_current: number;
  created_at: string;
}

export interface LineageRow {
  artifact_id: string;
  run_id: string;
  pipeline: string;
  step: string;
  tool_name: string;
  tool_version: string;
  params_json: string;
  inputs_json: string;
  worker: string;
  host: string;
}

/** Small files that sniff as JPEG images (magic bytes), each with its own content and so its own asset. */
export function smallJpeg(name: string): Buffer {
  return Buffer.concat([
    Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10]),
    Buffer.from(`archivist test ${name}\n`),
  ]);
}

export interface FixtureOptions {
  /** Plain good files, named `img-000.jpg`, `img-001.jpg`, ... (default 6). */
  files?: number;
  /** Extra files by relative path (e.g. `crash-marker.jpg`), generated like the others. */
  extra?: readonly string[];
  /** Changes to the home's config.json (written by `init`), applied before the catalog. */
  config?: (config: Record<string, Record<string, unknown>>) => void;
}

export interface Fixture {
  root: string;
  archive: string;
  home: string;
  env: NodeJS.ProcessEnv;
  /** Runs the built CLI against this home (`extraEnv` on top of the fixture's environment). */
  cli(args: readonly string[], extraEnv?: NodeJS.ProcessEnv): Promise<CliResult>;
  /** Runs the CLI with --json, expects exit 0 (or `expectCode`) and parses stdout. */
  json<T>(args: readonly string[], expectCode?: number, extraEnv?: NodeJS.ProcessEnv): Promise<T>;
  show(runId: string): Promise<RunJson>;
  /** Polls `run show --json` until `predicate` holds; fails with the last state after WAIT_MS. */
  waitFor(runId: string, predicate: (run: RunJson) => boolean, what: string): Promise<RunJson>;
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
  assetByPath(rel: string): Promise<AssetJson>;
  /** The archive is exactly as it was, and the store is whole (see `checkStore`). */
  verify(): void;
  /** Kills what the fixture started and is still alive, then removes the temporary folder. */
  cleanup(): Promise<void>;
}

export async function createFixture(options: FixtureOptions = {}): Promise<Fixture> {
  const { dir: root, cleanup: removeRoot } = tempDir('archivist-runs-');
  const archive = path.join(root, 'archive');
  const home = path.join(root, 'home');
  const names = [
    ...Array.from({ length: options.files ?? 6 }, (_, i) => `img-${String(i).padStart(3, '0')}.jpg`),
    ...(options.extra ?? []),
  ];
  for (const name of names) {
    const file = path.join(archive, ...name.split('/'));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // Images sniff as JPEG by their magic bytes; anything else is plain text (media type `other`).
    fs.writeFileSync(file, name.endsWith('.jpg') ? smallJpeg(name) : `archivist test ${name}\n`);
  }
  const manifest: ManifestEntry[] = archiveManifest(archive);
  const env = { ARCHIVIST_PIPELINE_MODULES: TEST_PIPELINES };
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
  const query = <T>(sql: string, ...params: unknown[]): T[] => {
    const db = new BetterSqlite3(path.join(home, 'archivist.db'), { readonly: true, fileMustExist: true });
    try {
      db.pragma('busy_timeout = 10000');
      return db.prepare(sql).all(...params) as T[];
    } finally {
      db.close();
    }
  };
  const storeFiles = () => listFiles(path.join(home, 'artifacts'));

  await json(['init']);
  if (options.config) {
    const file = path.join(home, 'config.json');
    const config = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, Record<string, unknown>>;
    options.config(config);
    fs.writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
  }
  await json(['source', 'add', 'archive', archive]);
  const [summary] = await json<{ new: number; errors: unknown[] }[]>(['catalog']);
  expect(summary!.new).toBe(names.length);
  expect(summary!.errors).toEqual([]);
  await json(['collection', 'create', 'c']);

  return {
    root,
    archive,
    home,
    env,
    cli,
    json,
    show,
    async waitFor(runId, predicate, what) {
      const deadline = Date.now() + WAIT_MS;
      let last: RunJson | undefined;
      while (Date.now() < deadline) {
        last = await show(runId);
        if (predicate(last)) return last;
        await sleep(150);
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
    storeFiles,
    async assetByPath(rel) {
      return json<AssetJson>(['asset', path.join(archive, ...rel.split('/'))]);
    },
    verify() {
      expect(archiveManifest(archive), 'the archive changed').toEqual(manifest);
      checkStore(home);
    },
    async cleanup() {
      // Only what this fixture started: its detached coordinators and their workers, and any process
      // still working on this fixture's home (a worker orphaned by a failed drill).
      const leftovers = [...started, ...started.flatMap((pid) => childPids(pid)), ...processesUsing(home)];
      for (const pid of leftovers) killIfAlive(pid);
      await waitUntilDead(leftovers).catch(() => undefined);
      removeRoot();
    },
  };
}

function listFiles(dir: string, prefix = ''): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...listFiles(path.join(dir, entry.name), rel));
    else out.push(rel);
  }
  return out.sort();
}

/**
 * The store is whole: every artifact row has its file under <home>/artifacts/<path> with the recorded
 * sha256 and size, every file there has a row, and SQLite's own integrity check passes. Call it when no
 * run is active (a file renamed into place a moment before its row commits is not a fault).
 */
export function checkStore(home: string): void {
  const db = new BetterSqlite3(path.join(home, 'archivist.db'), { readonly: true, fileMustExist: true });
  let rows: { id: string; path: string; sha256: string; size: number }[];
  try {
    db.pragma('busy_timeout = 10000');
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    rows = db.prepare('select id, path, sha256, size from artifacts').all() as typeof rows;
    const orphanLineage = db
      .prepare(
        'select count(*) as n from artifacts a left join lineage l on l.artifact_id = a.id where l.artifact_id is null',
      )
      .get() as { n: number };
    expect(orphanLineage.n, 'artifacts without lineage').toBe(0);
  } finally {
    db.close();
  }
  const store = path.join(home, 'artifacts');
  for (const row of rows) {
    const file = path.join(store, ...row.path.split('/'));
    expect(fs.existsSync(file), `artifact ${row.id}: ${row.path} is missing from the store`).toBe(true);
    const bytes = fs.readFileSync(file);
    expect(bytes.length, `artifact ${row.id}: size`).toBe(row.size);
    expect(createHash('sha256').update(bytes).digest('hex'), `artifact ${row.id}: sha256`).toBe(row.sha256);
  }
  const referenced = new Set(rows.map((row) => row.path));
  const unreferenced = listFiles(store).filter((file) => !referenced.has(file));
  expect(unreferenced, 'files in the store without an artifact row').toEqual([]);
}

// ------------------------------------------------------------------------------------------- processes

/** Children of `pid` (from /proc; `ps --ppid` where there is no /proc). */
export function childPids(pid: number): number[] {
  if (fs.existsSync('/proc/self/stat')) {
    const children: number[] = [];
    for (const name of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const stat = readStat(Number(name));
      if (stat && stat.ppid === pid) children.push(Number(name));
    }
    return children.sort((a, b) => a - b);
  }
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((line) => Number(line.trim()))
      .filter((n) => n > 0);
  } catch {
    return []; // ps exits 1 when nothing matches
  }
}

/** Processes whose command line names `dir` (on Linux; none elsewhere). */
function processesUsing(dir: string): number[] {
  if (!fs.existsSync('/proc/self/cmdline')) return [];
  const found: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const argv = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (argv.some((arg) => arg === dir || arg.startsWith(`${dir}${path.sep}`))) found.push(Number(name));
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

function readStat(pid: number): { state: string; ppid: number } | null {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: the fields start after the last `)`.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, ppid: Number(fields[1]) };
  } catch {
    return null;
  }
}

/** Alive means running or sleeping; a zombie (`Z`, killed but not reaped by its parent) is dead. */
export function isAlive(pid: number): boolean {
  if (fs.existsSync('/proc/self/stat')) {
    const stat = readStat(pid);
    return stat !== null && stat.state !== 'Z' && stat.state !== 'X';
  }
  try {
    const state = execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).trim();
    return state !== '' && !state.startsWith('Z');
  } catch {
    return false;
  }
}

function killIfAlive(pid: number): void {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone in between
  }
}

/** Resolves once none of `pids` is alive (zombies count as dead); rejects after WAIT_MS. */
export async function waitUntilDead(pids: readonly number[]): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    const alive = pids.filter(isAlive);
    if (alive.length === 0) return;
    await sleep(50);
  }
  throw new Error(`processes still alive after ${WAIT_MS / 1000} s: ${pids.filter(isAlive).join(', ')}`);
}

/** Polls a synchronous condition (e.g. a read of the database) every `everyMs` until it gives a value. */
export async function pollFor<T>(what: string, probe: () => T | undefined | null, everyMs = 25): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    const value = probe();
    if (value !== undefined && value !== null) return value;
    await sleep(everyMs);
  }
  throw new Error(`gave up waiting for ${what} after ${WAIT_MS / 1000} s`);
}
