import type { Command } from 'commander';
import { z } from 'zod';
import { ArchivistError } from '../../errors.js';
import {
  collectionJson,
  createCollection,
  getCollection,
  type CollectionFilters,
} from '../../runs/collections.js';
import { listCollections } from '../../store/collections-repository.js';
import { emit, plural, table, type GlobalOptions } from '../output.js';
import { printable } from '../printable.js';
import { withHome } from '../with-home.js';
import { wholeNumber } from '../../whole-number.js';

const CreateOptions = z.object({
  source: z.string().optional(),
  type: z.enum(['image', 'video', 'sidecar', 'other']).optional(),
  path: z.string().optional(),
  sample: wholeNumber({ min: 1 }).optional(),
  seed: wholeNumber().optional(),
  fromRun: z.string().optional(),
  status: z.enum(['failed', 'done', 'skipped', 'pending']).optional(),
});

function filtersFrom(raw: unknown): CollectionFilters {
  const parsed = CreateOptions.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ArchivistError('usage', `--${String(issue.path[0])}: ${issue.message}`);
  }
  const o = parsed.data;
  if (o.seed !== undefined && o.sample === undefined)
    throw new ArchivistError('usage', '--seed needs --sample N');
  if (o.status && !o.fromRun) throw new ArchivistError('usage', '--status needs --from-run <run>');
  return {
    ...(o.source ? { source: o.source } : {}),
    ...(o.type ? { type: o.type } : {}),
    ...(o.path ? { path: o.path } : {}),
    // Without --seed a sample is still reproducible: seed 0.
    ...(o.sample ? { sample: { n: o.sample, seed: o.seed ?? 0 } } : {}),
    ...(o.fromRun ? { fromRun: { run: o.fromRun, status: o.status ?? 'failed' } } : {}),
  };
}

function describeFilters(filters: CollectionFilters): string {
  const parts = [
    filters.source && `source ${printable(filters.source)}`,
    filters.type && `type ${filters.type}`,
    filters.path && `path ${printable(filters.path)}`,
    filters.sample && `sample ${filters.sample.n} (seed ${filters.sample.seed})`,
    filters.fromRun && `${filters.fromRun.status} items of run ${filters.fromRun.run}`,
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(', ') : 'every asset';
}

export function registerCollection(program: Command): void {
  const collection = program
    .command('collection')
    .description('saved scopes that runs freeze into work items');

  collection
    .command('create <name>')
    .description('save a scope (no filters: every asset)')
    .option('--source <name>', 'assets with a location in this source')
    .option('--type <type>', 'image, video, sidecar or other')
    .option('--path <glob>', 'location path glob (case-insensitive; * also matches /)')
    .option('--sample <n>', 'a deterministic sample of N assets')
    .option('--seed <k>', 'the sample seed (default 0)')
    .option('--from-run <run>', "assets of a run's items ...")
    .option('--status <status>', '... with this status (default failed)')
    .action(async (name: string, _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const filters = filtersFrom(command.opts());
      await withHome(options, async (home) => {
        if (filters.fromRun) {
          const { findRun } = await import('../../store/runs-repository.js');
          filters.fromRun.run = (await findRun(home.db, filters.fromRun.run)).id;
        }
        const row = await createCollection(home.db, name, filters);
        const size = (await collectionJson(home.db, row)).assets;
        emit(
          options,
          { name: row.name, filters, assets: size, createdAt: row.created_at },
          () =>
            `Created collection "${printable(row.name)}": ${describeFilters(filters)} (${plural(size, 'asset')} now; frozen when a run starts)`,
        );
      });
    });

  collection
    .command('list')
    .description('the saved collections with their current size')
    .action(async (_options: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      await withHome(options, async (home) => {
        const json = await Promise.all(
          (await listCollections(home.db)).map((row) => collectionJson(home.db, row)),
        );
        emit(options, json, () =>
          json.length === 0
            ? 'No collections yet. Create one with: archivist collection create <name> [filters]'
            : table([
                ['NAME', 'ASSETS', 'SCOPE'],
                ...json.map((c) => [printable(c.name), String(c.assets), describeFilters(c.filters)]),
              ]),
        );
      });
    });

  collection
    .command('show <name>')
    .description('a collection, its filters and the assets it means now')
    .action(async (name: string, _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      await withHome(options, async (home) => {
        const { row } = await getCollection(home.db, name);
        const json = await collectionJson(home.db, row, true);
        emit(options, json, () =>
          [
            `Collection ${printable(json.name)}: ${describeFilters(json.filters)}`,
            `  ${plural(json.assets, 'asset')} now (${
              Object.entries(json.byType ?? {})
                .map(([t, n]) => `${n} ${t}`)
                .join(', ') || 'none'
            })`,
            `  created ${json.createdAt}`,
          ].join('\n'),
        );
      });
    });
}
