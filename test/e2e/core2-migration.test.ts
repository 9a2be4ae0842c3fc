import fs from 'node:fs';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { archiveManifest } from '../helpers/archive-manifest.js';
import { REPO_ROOT, runCli, tempDir } from '../helpers/cli.js';
import { writeXmpSidecar } from '../helpers/core2-archive.js';
import { queryDatabase, writeDatabase } from '../helpers/db-query.js';
import { describeEachDialect, homeDatabase } from '../helpers/postgres.js';

/**
 * A home cataloged and processed before core@2 existed keeps working: its database is brought to
 * migration 0012 by the first command, its core@1 artifacts stay as they were (and are said not to read
 * sidecars), its sidecars are linked at the next catalog, and a core@2 run reuses what it can.
 * "Before" is made by taking 0012 back out of a fresh home (the table and its row in kysely_migration):
 * migration 0012 was the only schema change of core@2 (0013, the relation index, came after it and is taken
 * out too), so this is the schema an earlier version wrote. On both dialects: the same numbered migrations
 * bring either database forward.
 */

const { dir: root, cleanup } = tempDir('archivist-core2-migration-');
afterAll(cleanup);

describeEachDialect('a home from before core@2', (dialect) => {
  it('migrates, keeps its core@1 artifacts, links sidecars and runs core@2', async () => {
    const archive = path.join(root, dialect.name, 'archive');
    const home = path.join(root, dialect.name, 'home');
    fs.mkdirSync(archive, { recursive: true });
    fs.copyFileSync(
      path.join(REPO_ROOT, 'test', 'fixtures', 'media', 'jpg', 'Nikon_D70.jpg'),
      path.join(archive, 'DSC_0002.JPG'),
    );
    writeXmpSidecar(path.join(archive, 'DSC_0002.JPG.xmp'), 3);
    const manifest = archiveManifest(archive);
    const cli = async (args: string[], code = 0) => {
      const result = await runCli([...args, '--json'], { home });
      expect(result.code, `${args.join(' ')}\n${result.stderr}`).toBe(code);
      return JSON.parse(result.stdout) as Record<string, unknown> & Record<number, Record<string, unknown>>;
    };
    const { initArgs, database } = await homeDatabase(dialect, home);
    await cli(['init', ...initArgs]);
    await cli(['source', 'add', 'a', archive]);
    await cli(['catalog']);
    await cli(['collection', 'create', 'all']);
    const old = await cli(['run', 'start', 'core', '--collection', 'all', '--policy', 'production']);
    expect(old.pipeline).toEqual({ name: 'core', version: 1 });

    // Back to the schema of the version before: no sidecar_links, 0012 not applied (nor 0013, the
    // relation index, which came after it).
    const statements = [
      'drop table sidecar_links',
      'drop table asset_relations',
      'drop table pairing_keys',
      "delete from kysely_migration where name in ('0012-sidecar-links', '0013-asset-relations')",
      // And the later migrations, which that version did not have either (applied out of order they
      // would be refused as a corrupted history).
      'drop table asset_marks',
      'drop index locations_path_asset',
      'alter table runs drop column sandbox_retention_days',
      'alter table run_workers drop column skipped',
      'alter table run_workers drop column released',
      `delete from kysely_migration
        where name in ('0014-asset-marks', '0015-run-settings', '0017-worker-skips-releases',
          '0019-listing-indexes-at-scale', '0020-work-items-upkeep')`,
    ];
    // PostgreSQL's own index of 0013 (text_pattern_ops for path prefixes) goes with it.
    if (database.kind === 'postgres') statements.push('drop index locations_source_path_pattern');
    for (const statement of statements) writeDatabase(database, statement);

    const asset = async () =>
      (await cli(['asset', path.join(archive, 'DSC_0002.JPG')])) as {
        artifacts: { kind: string; lineage: { pipeline: string } }[];
        metadata: Record<string, unknown>;
        metadataStatus: { stale: boolean; reasons: string[] };
        sidecars: unknown[];
      };
    // The first command migrates; the old artifacts are there, the sidecar not linked yet.
    const before = await asset();
    expect(before.artifacts.map((a) => `${a.lineage.pipeline} ${a.kind}`).sort()).toEqual([
      'core@1 metadata',
      'core@1 thumbnail',
    ]);
    // core@1's schema, untouched: one stamp, no wall clock field, the sidecar not read.
    expect(before.metadata).not.toHaveProperty('takenAtLocal');
    expect(before.metadata.takenAtSource).not.toMatch(/^xmp:/);
    expect(before.sidecars).toEqual([]);
    const applied = queryDatabase<{ name: string }>(database, 'select name from kysely_migration');
    expect(applied.map((r) => r.name)).toContain('0012-sidecar-links');

    const [summary] = (await cli(['catalog'])) as unknown as { sidecars: { linked: number } }[];
    expect(summary!.sidecars.linked).toBe(1);
    const linked = await asset();
    expect(linked.metadataStatus).toEqual({
      artifactId: expect.any(String) as unknown,
      pipeline: 'core@1',
      stale: false,
      reasons: ['made by core@1, which does not read sidecars (run core@2)'],
    });

    const next = await cli(['run', 'start', 'core@2', '--collection', 'all', '--policy', 'production']);
    expect(next.status).toBe('completed');
    // The thumbnail is core@1's, reused; metadata, preview and motion-video are new.
    expect((next.counts as Record<string, number>).reused).toBe(1);
    const after = await asset();
    expect(after.metadata).toMatchObject({ rating: 3, takenAtSource: 'xmp:DateTimeOriginal' });
    expect(after.metadataStatus.stale).toBe(false);
    expect(archiveManifest(archive)).toEqual(manifest);
  });
});
