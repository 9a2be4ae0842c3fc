import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ArchivistError } from '../../src/errors.js';
import { resolveParams } from '../../src/pipeline/params.js';
import type { PipelineDefinition } from '../../src/pipeline/step.js';
import { parseRequest } from '../../src/runs/run-requests.js';

/**
 * Errors carry the field or param they concern (issue 16): the UI marks the bad input from these, never
 * by reading the message's text, and `--json` prints them.
 */

const pipeline = {
  name: 'p',
  version: 1,
  description: 'test',
  steps: [
    {
      name: 'thumbnail',
      params: z.object({ size: z.number().int().min(16).default(256) }),
    },
  ],
} as unknown as PipelineDefinition;

function caught(body: () => unknown): ArchivistError {
  try {
    body();
  } catch (error) {
    if (error instanceof ArchivistError) return error;
    throw error;
  }
  throw new Error('expected an ArchivistError');
}

describe('errors name what they are about', () => {
  it('a bad param names the param, and the field `set`', () => {
    const error = caught(() => resolveParams(pipeline, ['thumbnail.size=4']));
    expect(error).toMatchObject({ field: 'set', param: 'thumbnail.size' });
    expect(error.toJSON()).toMatchObject({ field: 'set', param: 'thumbnail.size' });
    expect(caught(() => resolveParams(pipeline, ['thumbnail.colour=red']))).toMatchObject({
      param: 'thumbnail.colour',
    });
    expect(caught(() => resolveParams(pipeline, ['nonsense']))).toMatchObject({ field: 'set' });
  });

  it('a bad request field names its path', () => {
    const schema = z.object({ workers: z.number().int().min(1), filters: z.object({ type: z.enum(['a']) }) });
    expect(caught(() => parseRequest(schema, { workers: 0, filters: { type: 'a' } }))).toMatchObject({
      field: 'workers',
    });
    expect(caught(() => parseRequest(schema, { workers: 1, filters: { type: 'b' } }))).toMatchObject({
      field: 'filters.type',
    });
  });
});
