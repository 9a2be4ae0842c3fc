import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { toArtifactJson } from '../../artifacts/artifact-json.js';
import { readStoredArtifact } from '../../artifacts/artifact-store.js';
import { ArchivistError } from '../../errors.js';
import { findArtifacts, type ArtifactWithLineage } from '../../store/artifacts-repository.js';
import type { ApiContext } from '../context.js';
import { parseInput } from '../http-errors.js';

const Params = z.object({ id: z.string().regex(/^(a-)?[0-9a-zA-Z_-]{3,80}$/, 'expected an artifact id') });

/** One artifact by id or unambiguous prefix, as `archivist artifact <id>` finds it. */
async function findOne(ctx: ApiContext, params: unknown): Promise<ArtifactWithLineage> {
  const { id } = parseInput(Params, params);
  const matches = await findArtifacts(ctx.home.db, id.startsWith('a-') ? id : `a-${id}`);
  if (matches.length === 0) throw new ArchivistError('not-found', `there is no artifact ${id}`);
  if (matches.length > 1) {
    const exact = matches.find((m) => m.id === id);
    if (exact) return exact;
    throw new ArchivistError('usage', `the artifact prefix ${id} matches several artifacts`, {
      hint: `Give more characters: ${matches.map((m) => m.id).join(', ')}`,
    });
  }
  return matches[0]!;
}

export function registerArtifactRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/api/artifacts/:id', async (request) =>
    toArtifactJson(ctx.home.layout, await findOne(ctx, request.params)),
  );

  /**
   * The artifact's bytes. The store is content-addressed, so the bytes behind an id never change and
   * may be cached for good; only a full id is served this way (a prefix could come to mean another).
   */
  app.get('/api/artifacts/:id/file', async (request, reply) => {
    const artifact = await findOne(ctx, request.params);
    if (artifact.id !== (request.params as { id: string }).id)
      throw new ArchivistError('not-found', `give the full artifact id (${artifact.id})`);
    const json = toArtifactJson(ctx.home.layout, artifact);
    let bytes: Buffer;
    try {
      bytes = readStoredArtifact(ctx.home.layout, json.path);
    } catch (error) {
      throw new ArchivistError('not-found', `the file of artifact ${artifact.id} is not in the store`, {
        cause: error,
        hint: 'Sandbox artifacts expire and `archivist gc` removes their files.',
      });
    }
    return reply
      .header('content-type', artifact.mime)
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('etag', `"${artifact.sha256}"`)
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', 'sandbox')
      .send(bytes);
  });
}
