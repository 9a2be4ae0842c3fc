/**
 * Entry point of a worker process forked by a run's coordinator: `node worker-process.js <home> <run>`.
 * It claims items from the database itself (so a crash here loses at most the item in flight) and talks
 * to its coordinator over the IPC channel. When that channel closes, the coordinator is gone, and a
 * worker without a coordinator stops at once rather than work unsupervised.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { openHome } from '../home/home.js';
import { configureTools, endTools } from '../pipeline/tools/lifecycle.js';
import { registerBuiltinPipelines } from '../pipeline/builtin.js';
import { findPipeline, loadExtraPipelines } from '../pipeline/registry.js';
import { getRun } from '../store/runs-repository.js';
import { diskFullReason, isDiskFull } from './disk-full.js';
import { openRunLog } from './run-log.js';
import { runWorkerLoop } from './worker.js';
import type { CoordinatorMessage, WorkerMessage } from './worker-messages.js';

const [homeRoot, runId, coordinatorArg] = process.argv.slice(2);
// The coordinator names itself: a worker whose coordinator died while it was still loading has already
// been re-parented by the time it could ask for its parent.
const coordinatorPid = Number(coordinatorArg ?? process.ppid);
if (!homeRoot || !runId) {
  process.stderr.write('usage: worker-process <home> <run> [coordinator pid]\n');
  process.exit(2);
}

const stop = new AbortController();
const abortWork = new AbortController();
const send = (message: WorkerMessage) => {
  if (process.connected) process.send?.(message);
};

// A step stuck in JavaScript (a decoder looping) blocks this event loop, and with it the 'disconnect'
// handler below. A watchdog thread keeps running regardless: once this process has been re-parented (its
// coordinator died) and has still not exited a moment later, it kills the process.
new Worker(
  `const { workerData } = require('node:worker_threads');
  let orphanSince = 0;
  setInterval(() => {
    if (process.ppid === workerData.ppid) return;
    orphanSince = orphanSince || Date.now();
    // The whole process group (this worker leads it): its exiftool and ffmpeg go too.
    if (Date.now() - orphanSince > 2000) {
      try { process.kill(-workerData.pid, 'SIGKILL'); } catch { process.kill(workerData.pid, 'SIGKILL'); }
    }
  }, 250);`,
  { eval: true, workerData: { ppid: coordinatorPid, pid: process.pid } },
).unref();

// Gone before we were listening: the channel closed during start-up, and 'disconnect' will not come.
if (!process.connected) process.exit(70);

process.on('disconnect', () => {
  // The coordinator died (even SIGKILL closes the channel): abort tools, then go. The loop ends at once
  // and commits what it already stored (a file in the store whose row never came would be an orphan
  // for gc); a commit that takes longer than this is cut, and the watchdog ends a blocked process.
  stop.abort();
  abortWork.abort();
  setTimeout(() => process.exit(70), 1_500).unref();
});
process.on('message', (message: CoordinatorMessage) => {
  if (message.type === 'stop') {
    stop.abort();
    setTimeout(() => abortWork.abort(), message.graceMs).unref();
  }
});
// Ctrl-C in a terminal sends SIGINT to the whole foreground process group, workers included. The
// coordinator turns it into a cancel and stops its workers (with the grace period); a worker that died of
// it would have its item recorded as a crash, with an attempt used.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => {
  stop.abort();
  abortWork.abort();
});

const home = await openHome(homeRoot);
// Tool paths in config.json win over what is on PATH; lineage records the tool actually used.
configureTools(home.config.tools, home.layout.toolVersions);
registerBuiltinPipelines();
await loadExtraPipelines();
const run = await getRun(home.db, runId);
const pipeline = findPipeline(`${run.pipeline_name}@${run.pipeline_version}`);
const workerId = `${os.hostname()}:${process.pid}`;
send({ type: 'ready', workerId });

// A log line refused by a full disk is the disk's problem, not this worker's: the run pauses for it.
const log = openRunLog(home.layout, run.id, 'worker', (error) => {
  if (isDiskFull(error))
    send({ type: 'disk-full', reason: diskFullReason(home.layout.root, 'writing the run log', error) });
});
const why = await runWorkerLoop({
  home,
  run,
  pipeline,
  workerId,
  stop: stop.signal,
  abortWork: abortWork.signal,
  send,
  log,
});
log.info({ event: 'worker-exit', why }, `worker ${why}`);
const usage = process.resourceUsage();
send({
  type: 'exiting',
  why,
  cpuMs: Math.round((usage.userCPUTime + usage.systemCPUTime) / 1000),
  maxRssBytes: usage.maxRSS * 1024,
});
await endTools();
await home.close();
if (process.connected) process.disconnect();
process.exitCode = 0;
