import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { assetDetail } from '../../catalog/asset-detail.js';
import { toAssetJson } from '../../catalog/asset-json.js';
import { sourceFilePath } from '../../catalog/file-names.js';
import { findAsset } from '../../catalog/find-asset.js';
import { openSourceFile, SourceReadError } from '../../catalog/source-reader.js';
import { ArchivistError } from '../../errors.js';
import type { AssetWithLocations } from '../../store/assets-repository.js';
import { workItemsOfAsset } from '../../store/run-outcomes-repository.js';
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

  const assetJson = (asset: AssetWithLocations) => assetDetail(home, asset);

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
   * The original file, opened through the source reader (O_RDONLY, O_NOFOLLOW, O_NOATIME, O_NONBLOCK):
   * the only way this server touches a source. A file that is no longer what the catalog saw (a symlink
   * or FIFO in its place, another size or mtime) is refused with the reason instead of streamed.
   */
  app.get('/api/assets/:ref/original', async (request, reply) => {
    const asset = await byId(request.params);
    const json = toAssetJson(asset);
    const index = json.locations.findIndex((l) => l.status === 'present');
    const location = json.locations[index];
    if (!location) throw new ArchivistError('not-found', `asset ${asset.id} has no present location`);
    const cataloged = asset.locations[index]!;
    const recatalog = `Run \`archivist catalog ${location.source}\` again.`;
    let handle: Awaited<ReturnType<typeof openSourceFile>>;
    try {
      // The exact bytes of a name that is not UTF-8 (absolutePath is its text form).
      handle = await openSourceFile(sourceFilePath(cataloged.sourcePath, cataloged.path));
    } catch (error) {
      if (!(error instanceof SourceReadError)) throw error;
      throw originalUnreadable(error, location.absolutePath, recatalog);
    }
    const stat = await handle.stat({ bigint: true });
    if (Number(stat.size) !== asset.size || stat.mtimeNs !== BigInt(cataloged.mtimeNs)) {
      await handle.close();
      throw new ArchivistError('source-changed', `${location.absolutePath} changed since it was cataloged`, {
        hint: recatalog,
      });
    }
    const name = location.path.split('/').at(-1) ?? asset.id;
    // Only media keeps its type (an <img> or <video> of the UI shows it); always as an attachment, never a
    // page of this server, and sandboxed: an archived HTML or SVG file must not run as this origin.
    const media = /^(image|video|audio)\//.test(asset.mime ?? '') && asset.mime !== 'image/svg+xml';
    const size = Number(stat.size);
    // A <video> asks for byte ranges to start playing at once and to seek: one range is answered with
    // 206 from the same read-only handle; a range past the end is 416; several ranges get the whole file.
    const range = byteRange(request.headers.range, size);
    if (range === 'unsatisfiable') {
      await handle.close();
      return reply.code(416).header('content-range', `bytes */${size}`).send();
    }
    if (range) reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${size}`);
    return reply
      .header('content-type', media ? asset.mime! : 'application/octet-stream')
      .header('content-length', String(range ? range.end - range.start + 1 : size))
      .header('accept-ranges', 'bytes')
      .header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(name)}`)
      .header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "sandbox; default-src 'none'; frame-ancestors 'none'")
      .send(handle.createReadStream(range ?? {}));
  });
}

/**
 * The one byte range of a `Range: bytes=...` header (RFC 9110 section 14): `start-end`, `start-` or the
 * last `-n` bytes, clamped to the file. Null means "send the whole file": no header, another unit, a
 * malformed value, or several ranges (allowed answer: the whole representation).
 */
export function byteRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | 'unsatisfiable' | null {
  const match = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!match || (match[1] === '' && match[2] === '')) return null;
  if (match[1] === '') {
    const last = Number(match[2]);
    if (last === 0) return 'unsatisfiable';
    return size === 0 ? 'unsatisfiable' : { start: Math.max(0, size - last), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size) return 'unsatisfiable';
  if (end < start) return null;
  return { start, end };
}

/** Why an original cannot be streamed, as the status a client can act on (never a 500). */
function originalUnreadable(error: SourceReadError, file: string, hint: string): ArchivistError {
  switch (error.reason) {
    case 'not-found':
      return new ArchivistError('not-found', `${file} is gone since it was cataloged`, {
        hint,
        cause: error,
      });
    case 'not-a-regular-file':
      return new ArchivistError(
        'source-changed',
        `${file} is no longer a regular file (a symlink, FIFO or folder is in its place)`,
        { hint, cause: error },
      );
    case 'source-changed':
      return new ArchivistError('source-changed', `${file} changed since it was cataloged`, {
        hint,
        cause: error,
      });
    case 'changed-during-read':
      return new ArchivistError('source-changed', `${file} changed while it was opened`, {
        hint,
        cause: error,
      });
    case 'permission-denied':
      return new ArchivistError('forbidden', `${file}: permission denied`, { cause: error });
    case 'io-error':
      return error;
  }
}
