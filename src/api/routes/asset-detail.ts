import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { metadataOf, toArtifactJson } from '../../artifacts/artifact-json.js';
import { toAssetJson } from '../../catalog/asset-json.js';
import { sourceFilePath } from '../../catalog/file-names.js';
import { findAsset } from '../../catalog/find-asset.js';
import { openSourceFile } from '../../catalog/source-reader.js';
import { ArchivistError } from '../../errors.js';
import { artifactsOfAsset } from '../../store/artifacts-repository.js';
import type { AssetWithLocations } from '../../store/assets-repository.js';
import { workItemsOfAsset } from '../../store/runs-repository.js';
import type { ApiContext } from '../context.js';
import { badField, parseInput } from '../http-errors.js';

const IdParams = z.object({
  ref: z.string().regex(/^[0-9a-fA-F]{4,64}$/, 'expected 4 to 64 hex characters of an asset id'),
});
const LookupQuery = z.object({ ref: z.string().min(1) }).strict();

/**
 * One asset as `archivist asset <ref> --json` prints it (locations, every artifact with lineage, the
 * normalized metadata), what every run did with it, and its original, streamed read-only.
 */
export function registerAssetDetailRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { home } = ctx;

  const byId = async (params: unknown): Promise<AssetWithLocations> => {
    const { ref } = parseInput(IdParams, params);
    return findAsset(home, ref.toLowerCase(), home.layout.root);
  };

  const assetJson = async (asset: AssetWithLocations) => {
    const artifacts = (await artifactsOfAsset(home.db, asset.id)).map((a) => toArtifactJson(home.layout, a));
    return { ...toAssetJson(asset), artifacts, metadata: metadataOf(home.layout, artifacts) };
  };

  app.get('/api/assets/:ref', async (request) => assetJson(await byId(request.params)));

  /** By an absolute path (as `archivist asset /path/to/file`) or an id prefix. */
  app.get('/api/asset', async (request) => {
    const { ref } = parseInput(LookupQuery, request.query);
    if (!ref.startsWith('/') && !/^[0-9a-fA-F]{4,64}$/.test(ref))
      throw badField('ref', 'give an absolute path or at least 4 hex characters of an asset id');
    return assetJson(await findAsset(home, ref, home.layout.root));
  });

  app.get('/api/assets/:ref/history', async (request) => {
    const asset = await byId(request.params);
    return { assetId: asset.id, items: await workItemsOfAsset(home.db, asset.id) };
  });

  /**
   * The original file for full-size viewing, opened through the source reader (O_RDONLY, O_NOFOLLOW,
   * O_NOATIME): the only way this server touches a source.
   */
  app.get('/api/assets/:ref/original', async (request, reply) => {
    const asset = await byId(request.params);
    const present = asset.locations.findIndex((l) => l.status === 'present');
    const location = toAssetJson(asset).locations[present];
    if (!location) throw new ArchivistError('not-found', `asset ${asset.id} has no present location`);
    // The exact bytes of a name that is not UTF-8 (absolutePath is its text form).
    const { sourcePath, path } = asset.locations[present]!;
    const handle = await openSourceFile(sourceFilePath(sourcePath, path));
    const stat = await handle.stat();
    if (stat.size !== asset.size) {
      await handle.close();
      throw new ArchivistError('not-found', `${location.absolutePath} changed since it was cataloged`, {
        hint: `Run \`archivist catalog ${location.source}\` again.`,
      });
    }
    const name = location.path.split('/').at(-1) ?? asset.id;
    // Only media is shown inline: an archived HTML or SVG file must not run as a page of this server.
    const media = /^(image|video|audio)\//.test(asset.mime ?? '') && asset.mime !== 'image/svg+xml';
    return reply
      .header('content-type', media ? asset.mime! : 'application/octet-stream')
      .header('content-length', String(stat.size))
      .header(
        'content-disposition',
        `${media ? 'inline' : 'attachment'}; filename*=UTF-8''${encodeURIComponent(name)}`,
      )
      .header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', 'sandbox')
      .send(handle.createReadStream());
  });
}
