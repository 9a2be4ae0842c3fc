/**
 * A throwaway PostgreSQL cluster from the system's binaries, for the tests and the bench: `initdb` in a
 * temporary folder, listening on 127.0.0.1 on a free port (and a socket in that folder), stopped and
 * deleted by `stop()`. PostgreSQL refuses to run as root, so as root it runs as the `postgres` user that
 * Debian's package creates (`runuser`, else `su`). `findPostgresBinaries()` says why it cannot, instead.
 *
 * A detached watchdog stops and deletes the cluster when the process that started it dies without calling
 * `stop()` (a killed `npm test`, a crashed bench), so no server is left running for hours.
 *
 *   node scripts/pg-cluster.mjs      starts one, prints its URL, and stops it on Ctrl-C
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { clearInterval, setInterval } from 'node:timers';
import { fileURLToPath } from 'node:url';

const CANDIDATE_DIRS = [
  '/usr/lib/postgresql/17/bin',
  '/usr/lib/postgresql/16/bin',
  '/usr/lib/postgresql/15/bin',
];

/** The folder with initdb and pg_ctl, or a one-line reason why there is none. */
export function findPostgresBinaries() {
  const fromPath = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).stdout.trim();
  const dirs = [...(fromPath ? [path.dirname(fromPath)] : []), ...CANDIDATE_DIRS];
  const dir = dirs.find(
    (d) => fs.existsSync(path.join(d, 'initdb')) && fs.existsSync(path.join(d, 'pg_ctl')),
  );
  if (!dir) return { reason: "no PostgreSQL binaries (initdb, pg_ctl) found; install Debian's postgresql" };
  const root = process.getuid?.() === 0;
  if (root && spawnSync('id', ['postgres']).status !== 0) {
    return { reason: 'running as root and there is no postgres user to run PostgreSQL as' };
  }
  return { dir, asPostgres: root };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function runAs(asPostgres, file, args) {
  if (!asPostgres) return execFileSync(file, args, { stdio: 'pipe' });
  const runuser = spawnSync('sh', ['-c', 'command -v runuser'], { encoding: 'utf8' }).stdout.trim();
  if (runuser) return execFileSync(runuser, ['-u', 'postgres', '--', file, ...args], { stdio: 'pipe' });
  const quoted = [file, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  return execFileSync('su', ['postgres', '-s', '/bin/sh', '-c', quoted], { stdio: 'pipe' });
}

/** Starts a cluster; resolves to `{ url, dir, stop() }`. Throws with the reason when it cannot. */
export async function startCluster(options = {}) {
  const found = findPostgresBinaries();
  if (!found.dir) throw new Error(found.reason);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'archivist-pg-'));
  const data = path.join(dir, 'data');
  const socket = path.join(dir, 'socket');
  fs.mkdirSync(socket);
  if (found.asPostgres) {
    // The postgres user must own the folder (initdb makes `data` inside it and checks its mode).
    execFileSync('chown', ['-R', 'postgres:postgres', dir]);
    fs.chmodSync(dir, 0o755);
  }
  const port = options.port ?? (await freePort());
  const bin = (name) => path.join(found.dir, name);
  let settings = '';
  const pgStart = () =>
    runAs(found.asPostgres, bin('pg_ctl'), [
      '-D',
      data,
      '-o',
      settings,
      '-l',
      path.join(dir, 'server.log'),
      '-w',
      'start',
    ]);
  try {
    runAs(found.asPostgres, bin('initdb'), [
      '-D',
      data,
      '-U',
      'postgres',
      '--auth=trust',
      '-E',
      'UTF8',
      '--no-sync',
    ]);
    settings = [
      `-c listen_addresses=${options.listen ?? '127.0.0.1'}`,
      `-p ${port}`,
      `-k ${socket}`,
      '-c max_connections=300',
      // A throwaway cluster: durability costs time and protects nothing here.
      ...(options.durable ? [] : ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off']),
    ].join(' ');
    // Clients from other network namespaces (the multi-host drill) connect from this network.
    if (options.trust)
      fs.appendFileSync(path.join(data, 'pg_hba.conf'), `host all all ${options.trust} trust\n`);
    pgStart();
  } catch (error) {
    const log = fs.existsSync(path.join(dir, 'server.log'))
      ? fs.readFileSync(path.join(dir, 'server.log'), 'utf8')
      : '';
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `cannot start a PostgreSQL cluster: ${error.stderr?.toString() || error.message}\n${log}`,
      { cause: error },
    );
  }
  const stopServer = () => {
    try {
      runAs(found.asPostgres, bin('pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // already gone
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  startWatchdog(process.pid, dir);
  let stopped = false;
  const serverPids = () => {
    const pid = Number(fs.readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const children = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter(Boolean)
      .map(Number);
    return [pid, ...children];
  };
  return {
    url: `postgres://postgres@${options.listen ?? '127.0.0.1'}:${port}/postgres`,
    dir,
    port,
    /** The server and every backend killed with SIGKILL at once, as a crash would (the drill's "server killed"). */
    kill() {
      for (const pid of serverPids()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
    },
    /** Starts the killed server again (crash recovery); retried while the old backends still hold its memory. */
    restart() {
      for (let attempt = 0; ; attempt++) {
        try {
          pgStart();
          return;
        } catch (error) {
          if (attempt >= 20) throw error;
          spawnSync('sleep', ['0.25']);
        }
      }
    },
    stop() {
      if (stopped) return;
      stopped = true;
      stopServer();
    },
  };
}

/**
 * Runs this file again as a detached process that outlives its owner: it polls the owner's pid and, once the
 * owner is gone while the cluster's folder still exists (so `stop()` never ran), stops the server and deletes
 * the folder. It exits by itself as soon as the folder is gone.
 */
function startWatchdog(ownerPid, dir) {
  const child = spawn(
    process.execPath,
    [fileURLToPath(import.meta.url), '--watchdog', String(ownerPid), dir],
    { detached: true, stdio: 'ignore' },
  );
  child.unref();
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

function watch(ownerPid, dir) {
  const timer = setInterval(() => {
    if (!fs.existsSync(dir)) return process.exit(0);
    if (isAlive(ownerPid)) return;
    clearInterval(timer);
    const data = path.join(dir, 'data');
    const found = findPostgresBinaries();
    try {
      if (found.dir)
        runAs(found.asPostgres, path.join(found.dir, 'pg_ctl'), [
          '-D',
          data,
          '-m',
          'immediate',
          '-w',
          'stop',
        ]);
    } catch {
      // not running (the drill had killed it, or it never came up)
    }
    fs.rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  }, 1000);
}

if (import.meta.url === `file://${process.argv[1]}` && process.argv[2] === '--watchdog') {
  watch(Number(process.argv[3]), process.argv[4]);
} else if (import.meta.url === `file://${process.argv[1]}`) {
  const cluster = await startCluster();
  process.stdout.write(`${cluster.url}\n`);
  const stop = () => {
    cluster.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  setInterval(() => undefined, 1 << 30);
}
