// Test-only pipelines for the run engine, loaded by the CLI through $ARCHIVIST_PIPELINE_MODULES.
// Plain JavaScript on purpose: worker processes import it with plain Node, from the built registry.
import { Buffer } from 'node:buffer';
import path from 'node:path';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { registerPipeline } from '../../dist/pipeline/registry.js';

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
