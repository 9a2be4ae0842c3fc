import type { Command } from 'commander';
import { z } from 'zod';
import { toAssetJson, type AssetJson } from '../../catalog/asset-json.js';
import type { Db } from '../../store/database.js';
import { ArchivistError } from '../../errors.js';
import { listPipelines } from '../../pipeline/registry.js';
import { assetsByIds } from '../../store/assets-repository.js';
import type { ListingFilters } from '../../store/listing-filters.js';
import { countListed, pathPage, type PathCursor } from '../../store/listing-repository.js';
import type { MediaType } from '../../store/schema.js';
import { findSourceByName } from '../../store/sources-repository.js';
import { emit, formatBytes, plural, table, type GlobalOptions } from '../output.js';
import { printable } from '../printable.js';
import { withHome } from '../with-home.js';
import { wholeNumber } from '../../whole-number.js';

/** Without --limit a person sees a screenful; --json returns everything unless told otherwise. */
const HUMAN_DEFAULT_LIMIT = 50;

const AssetsOptions = z.object({
  source: z.string().optional(),
  type: z.enum(['image', 'video', 'sidecar', 'other']).optional(),
  path: z.string().min(1).optional(),
  missing: z.string().min(1).optional(),
  limit: wholeNumber({ min: 1 }).optional(),
});

function parseOptions(raw: unknown): z.infer<typeof AssetsOptions> {
  const parsed = AssetsOptions.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new ArchivistError('usage', `--${issue.path.join('.')}: ${issue.message}`);
}

export function registerAssets(program: Command): void {
  program
    .command('assets')
    .description('list cataloged assets')
    .option('--source <name>', 'only assets with a location in this source')
    .option('--type <type>', 'image, video, sidecar or other')
    .option(
      '--path <glob>',
      'location path glob, case-insensitive; * also matches / (e.g. "2019/*", "*.heic")',
    )
    .option('--missing <step>', 'images and videos with no done item of this step')
    .option('--limit <n>', 'at most N assets')
    .action(async (_options: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const parsed = parseOptions(command.opts());
      await withHome(options, async (home) => {
        const source = parsed.source ? await findSourceByName(home.db, parsed.source) : undefined;
        if (parsed.source && !source) {
          throw new ArchivistError('source-unknown', `there is no source named "${parsed.source}"`);
        }
        let mediaTypes: MediaType[] | undefined = parsed.type ? [parsed.type] : undefined;
        if (parsed.missing) {
          const steps = new Set(listPipelines().flatMap((p) => p.steps.map((s) => s.name)));
          if (!steps.has(parsed.missing)) {
            throw new ArchivistError(
              'usage',
              `--missing ${parsed.missing}: no pipeline has a step of that name`,
              {
                hint: `Steps: ${[...steps].sort().join(', ') || '(no pipelines registered)'}.`,
              },
            );
          }
          // Steps process images and videos; sidecars and other files never "miss" one.
          mediaTypes = (mediaTypes ?? ['image', 'video']).filter((t) => t === 'image' || t === 'video');
        }
        const filters: ListingFilters = {
          source: source ? { id: source.id, name: source.name } : undefined,
          mediaTypes,
          pathGlob: parsed.path,
          missingStep: parsed.missing,
        };
        const limit = parsed.limit ?? (options.json ? undefined : HUMAN_DEFAULT_LIMIT);
        if (options.json) {
          // Page by page (keyset, path order) straight to stdout: a million assets are never all in memory.
          await writeJsonArray(pages(home.db, filters, limit));
          return;
        }
        const assets: AssetJson[] = [];
        for await (const page of pages(home.db, filters, limit)) assets.push(...page);
        const total = await countListed(home.db, filters);
        emit(options, assets, () => {
          if (assets.length === 0)
            return 'No assets match. (Has the source been cataloged? `archivist catalog`)';
          const rows = assets.map((a) => {
            const first = a.locations[0];
            const where = first
              ? `${printable(first.source)}:${printable(first.path)}${first.status === 'missing' ? ' (missing)' : ''}`
              : '';
            const more = a.locations.length > 1 ? ` (+${a.locations.length - 1} more)` : '';
            return [a.id.slice(0, 12), a.mediaType, formatBytes(a.size), `${where}${more}`];
          });
          const footer =
            total > assets.length
              ? `\n${assets.length} of ${total} shown (--limit N for more, --json for all)`
              : `\n${plural(total, 'asset')}`;
          return table([['ID', 'TYPE', 'SIZE', 'LOCATION'], ...rows]) + footer;
        });
      });
    });
}

/** The listing's assets in path order, a page at a time, at most `limit` in all. */
async function* pages(
  db: Db,
  filters: ListingFilters,
  limit: number | undefined,
): AsyncGenerator<AssetJson[]> {
  let after: PathCursor | undefined;
  let left = limit ?? Infinity;
  while (left > 0) {
    const page = await pathPage(db, filters, { limit: Math.min(PAGE, left), after });
    const assets = await assetsByIds(
      db,
      page.rows.map((r) => r.id),
    );
    if (assets.length > 0) yield assets.map(toAssetJson);
    left -= page.rows.length;
    if (!page.next) return;
    after = page.next;
  }
}

const PAGE = 500;

/**
 * The same document `JSON.stringify(all, null, 2)` gives, written as the pages come. A reader that goes
 * away (`| head`) ends the listing quietly, as for any Unix tool, instead of an unhandled EPIPE.
 */
async function writeJsonArray(source: AsyncIterable<unknown[]>): Promise<void> {
  let gone = false;
  const onError = (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') gone = true;
    else throw error;
  };
  process.stdout.on('error', onError);
  try {
    let first = true;
    for await (const page of source) {
      const text = page
        .map((item) => `  ${JSON.stringify(item, null, 2).replace(/\n/g, '\n  ')}`)
        .join(',\n');
      await write(first ? `[\n${text}` : `,\n${text}`);
      if (gone) return;
      first = false;
    }
    await write(first ? '[]\n' : '\n]\n');
  } finally {
    process.stdout.off('error', onError);
  }
}

function write(text: string): Promise<void> {
  // An error is reported to the 'error' listener too; the callback only says the write is over.
  return new Promise((resolve) => process.stdout.write(text, () => resolve()));
}
