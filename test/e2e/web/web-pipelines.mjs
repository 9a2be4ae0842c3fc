// A pipeline for the web UI's end-to-end tests, loaded by `archivist serve` (and the coordinators and
// workers it starts) through $ARCHIVIST_PIPELINE_MODULES. It makes real thumbnails and a small metadata
// JSON with sharp, reading each original read-only, and can be slowed down (`thumbnail.ms`) so that a
// run can be watched and cancelled. Plain JavaScript: worker processes import it with plain Node.
import fs from 'node:fs';
import { Buffer } from 'node:buffer';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { z } from 'zod';
import { registerPipeline } from '../../../dist/pipeline/registry.js';

const tool = { name: 'sharp', version: async () => sharp.versions.sharp ?? sharp.versions.vips };

function failure(error) {
  const message = String(error?.message ?? error);
  const unsupported = /unsupported image format|no decode|bad seek|not a known file format|heif/i.test(
    message,
  );
  return {
    status: 'failed',
    reason: unsupported ? 'unsupported-format' : 'decode-error',
    message: message.split('\n')[0],
    stderrTail: message,
  };
}

registerPipeline({
  name: 'webdemo',
  version: 1,
  description: 'sharp thumbnails and basic metadata, for the web UI tests',
  steps: [
    {
      name: 'metadata',
      tool,
      artifactKind: 'metadata',
      mediaTypes: ['image', 'video'],
      params: z.object({}),
      async run(context) {
        const stat = fs.statSync(context.asset.file);
        const base = {
          takenAt: stat.mtime.toISOString(),
          takenAtSource: 'mtime',
          mimeType: context.asset.mime,
        };
        if (context.asset.mediaType !== 'image')
          return { status: 'done', output: json({ ...base, raw: null }) };
        try {
          const m = await sharp(context.asset.file).metadata();
          const turned = (m.orientation ?? 1) >= 5;
          return {
            status: 'done',
            output: json({
              ...base,
              width: turned ? m.height : m.width,
              height: turned ? m.width : m.height,
              orientation: m.orientation ?? null,
              raw: { format: m.format, space: m.space, channels: m.channels, density: m.density ?? null },
            }),
          };
        } catch (error) {
          return failure(error);
        }
      },
    },
    {
      name: 'thumbnail',
      tool,
      artifactKind: 'thumbnail',
      mediaTypes: ['image'],
      params: z.object({
        size: z.number().int().min(16).max(2048).default(256),
        ms: z.number().int().min(0).max(10_000).default(0),
      }),
      async run(context) {
        if (context.params.ms > 0) {
          await sleep(context.params.ms, undefined, { signal: context.signal }).catch(() => undefined);
          if (context.signal.aborted) return { status: 'failed', reason: 'timeout', message: 'aborted' };
        }
        try {
          const bytes = await sharp(context.asset.file)
            .rotate()
            .resize(context.params.size, context.params.size, { fit: 'inside' })
            .webp({ quality: 80 })
            .toBuffer();
          return { status: 'done', output: { bytes, mime: 'image/webp', extension: 'webp' } };
        } catch (error) {
          return failure(error);
        }
      },
    },
  ],
});

function json(value) {
  return { bytes: Buffer.from(JSON.stringify(value, null, 2)), mime: 'application/json', extension: 'json' };
}
