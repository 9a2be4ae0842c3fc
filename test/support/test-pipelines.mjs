// Test-only pipelines for the run engine, loaded by the CLI through $ARCHIVIST_PIPELINE_MODULES.
// Plain JavaScript on purpose: worker processes import it with plain Node, from the built registry.
import { Buffer } from 'node:buffer';
import path from 'node:path';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { openSourceFile } from '../../dist/catalog/source-reader.js';
import { registerPipeline } from '../../dist/pipeline/registry.js';
import { metadataStep } from '../../dist/pipeline/steps/metadata.js';
import { thumbnailStep } from '../../dist/pipeline/steps/thumbnail.js';

const tool = { name: 'test-tool', version: async () => '1.0' };
const all = ['image', 'video', 'sidecar', 'other'];
const marked = (context, marker) => path.basename(context.asset.file).includes(marker);

registerPipeline({
  name: 'testsleep',
  version: 1,
  description: 'sleeps, then writes a small text artifact per asset',
  steps: [
    {
      name: 'write',
      tool,
      artifactKind: 'note',
      mediaTypes: ['image', 'video'],
      params: z.object({
        ms: z.number().int().min(0).max(60_000).default(150),
        size: z.number().int().min(1).max(4096).default(256),
        label: z.enum(['a', 'b', 'c']).default('a'),
      }),
      async run(context) {
        await sleep(context.params.ms, undefined, { signal: context.signal }).catch(() => undefined);
        if (context.signal.aborted) return { status: 'failed', reason: 'timeout', message: 'aborted' };
        const text = `${context.asset.id} size=${context.params.size} label=${context.params.label}\n`;
        return { status: 'done', output: { bytes: Buffer.from(text), mime: 'text/plain', extension: 'txt' } };
      },
    },
  ],
});

registerPipeline({
  name: 'testfault',
  version: 1,
  description: 'fails, crashes or hangs on files whose names carry a marker',
  steps: [
    {
      name: 'probe',
      tool,
      artifactKind: 'note',
      mediaTypes: all,
      params: z.object({ ms: z.number().int().min(0).default(50) }),
      async run(context) {
        if (marked(context, 'crash-marker')) process.kill(process.pid, 'SIGSEGV');
        if (marked(context, 'hang-marker')) for (;;) Math.random(); // a decoder stuck in a loop, deaf to signals
        if (marked(context, 'skip-marker')) {
          return { status: 'skipped', reason: 'not-for-this-step', message: 'skip marker found' };
        }
        if (marked(context, 'fail-marker')) {
          return {
            status: 'failed',
            reason: 'decode-error',
            message: 'not a picture: marker found',
            stderrTail: 'probe: bad marker\nprobe: giving up',
          };
        }
        await sleep(context.params.ms);
        return {
          status: 'done',
          output: { bytes: Buffer.from(`ok ${context.asset.id}\n`), mime: 'text/plain', extension: 'txt' },
        };
      },
    },
    {
      name: 'after',
      tool,
      artifactKind: 'note2',
      mediaTypes: all,
      needs: ['probe'],
      params: z.object({}),
      async run(context) {
        return {
          status: 'done',
          output: {
            bytes: Buffer.from(`after ${context.inputs[0].sha256}\n`),
            mime: 'text/plain',
            extension: 'txt',
          },
        };
      },
    },
  ],
});

registerPipeline({
  name: 'testnoop',
  version: 1,
  description: 'does nothing: measures the bookkeeping alone',
  steps: [
    {
      name: 'noop',
      tool,
      artifactKind: 'none',
      mediaTypes: all,
      params: z.object({}),
      run: async () => ({ status: 'done', output: null }),
    },
  ],
});

// A decoder that crashes on one file (drill F): core's real steps, except that the thumbnail step kills its
// own worker process with SIGSEGV, as a crashing native decoder would, on a file whose content carries the
// poison marker (a JPEG comment written by test/e2e/runs/real-media.ts). The marker is looked for in the
// head of the file, where a JPEG keeps its COM segments, through Archivist's read-only source reader.
const POISON = Buffer.from('archivist-poison', 'latin1');
const POISON_HEAD_BYTES = 64 * 1024;

async function isPoisoned(file) {
  const handle = await openSourceFile(file);
  try {
    const head = Buffer.alloc(POISON_HEAD_BYTES);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return head.subarray(0, bytesRead).includes(POISON);
  } finally {
    await handle.close();
  }
}

registerPipeline({
  name: 'testpoison',
  version: 1,
  description: "core's metadata and thumbnail steps; the thumbnail decoder crashes on poisoned files",
  steps: [
    metadataStep,
    {
      ...thumbnailStep,
      async run(context) {
        if (await isPoisoned(context.asset.file)) process.kill(process.pid, 'SIGSEGV');
        return thumbnailStep.run(context);
      },
    },
  ],
});
