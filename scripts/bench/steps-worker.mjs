/**
 * One process of the "steps loop": the `core@1` steps' own code (`metadataStep.run`, then
 * `thumbnailStep.run`) on each asset, with no run around them: no database, no claim, no artifact store,
 * no lineage. Forked and fed like bare-worker.mjs (same environment, same IPC queue), so that
 *
 *   bare loop → steps loop   is what the steps add over the tools they call (reading originals only
 *                            through their descriptor, the checks against the catalog, normalizing);
 *   steps loop → `core` run  is what the engine adds (claims, store, lineage, supervision).
 *
 * Each asset arrives with what the catalog knows of it (id, size, mtime, inode), as a worker has it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { pathToFileURL } from 'node:url';

const dist = process.argv[2];
const load = (rel) => import(pathToFileURL(path.join(dist, rel)).href);
const { configureTools, endTools } = await load('pipeline/tools/lifecycle.js');
const { metadataStep } = await load('pipeline/steps/metadata.js');
const { thumbnailStep } = await load('pipeline/steps/thumbnail.js');
// Tool versions remembered where a run's worker finds them (the bench home), none asked twice.
configureTools({}, process.argv[3]);

const scratchDir = fs.mkdtempSync(path.join(os.tmpdir(), 'archivist-bench-steps-'));
const signal = new globalThis.AbortController().signal;
const steps = [metadataStep, thumbnailStep].map((step) => ({ step, params: step.params.parse({}) }));
let done = 0;
let failed = 0;

async function one(asset) {
  for (const { step, params } of steps) {
    const outcome = await step.run({ asset, params, inputs: [], sidecars: [], signal, scratchDir });
    if (outcome.status === 'done') done++;
    else failed++;
  }
}

process.on('message', async (message) => {
  if (message.type === 'asset') {
    await one(message.asset);
    process.send({ type: 'next' });
  } else if (message.type === 'stop') {
    await endTools();
    fs.rmSync(scratchDir, { recursive: true, force: true });
    process.send({ type: 'stats', done, failed, rss: process.resourceUsage().maxRSS * 1024 });
    process.disconnect();
  }
});
process.send({ type: 'next' });
