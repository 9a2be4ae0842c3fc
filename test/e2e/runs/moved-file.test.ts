import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { describeEachDialect } from '../../helpers/postgres.js';
import { archiveManifest } from '../../helpers/archive-manifest.js';
import { createFixture, fixturesPerTest } from './harness.js';

/**
 * A file moved after the catalog (issue 16): its item fails `source-missing` with a message naming the
 * path that was looked at and saying what to do, the log entry names that path (it was `"file": null`),
 * and once a catalog has recorded the move a retry of the failed items finds the file where it is now.
 */

const track = fixturesPerTest({ realMedia: false });

describeEachDialect('a file moved after the catalog', (dialect) => {
  it('fails source-missing naming the path tried, and a catalog plus retry finds it at its new place', async () => {
    const f = track(await createFixture({ dialect: dialect.name, files: 3 }));
    const from = path.join(f.archive, 'img-001.jpg');
    fs.mkdirSync(path.join(f.archive, 'moved'));
    fs.renameSync(from, path.join(f.archive, 'moved', 'img-001.jpg'));
    const afterMove = archiveManifest(f.archive);

    const run = await f.cli([
      'run',
      'start',
      'testsleep',
      '--collection',
      'c',
      '--set',
      'write.ms=0',
      '--json',
    ]);
    expect(run.code, run.stderr).toBe(3);
    const { id } = JSON.parse(run.stdout) as { id: string };
    const shown = await f.show(id);
    expect(shown.counts).toMatchObject({ done: 2, failed: 1 });
    const [failure] = shown.failures;
    expect(failure).toMatchObject({ reason: 'source-missing' });
    expect(failure!.message).toContain(`not found at ${from}`);
    expect(failure!.message).toContain('archivist catalog');

    const logged = f.runLog(id).find((entry) => entry.event === 'item-failed');
    expect(logged?.file).toBe(from);

    const catalog = await f.json<{ moved: number }[]>(['catalog']);
    expect(catalog[0]!.moved).toBe(1);
    const retry = await f.cli(['run', 'retry', id, '--failed-only', '--json']);
    expect(retry.code, retry.stderr).toBe(0);
    const retried = JSON.parse(retry.stdout) as { id: string };
    expect((await f.show(retried.id)).counts).toMatchObject({ done: 1, failed: 0 });
    const asset = await f.assetByPath('moved/img-001.jpg');
    expect(asset.artifacts.some((a) => a.runId === retried.id)).toBe(true);

    // Nothing touched the archive after the test moved the file itself.
    expect(archiveManifest(f.archive)).toEqual(afterMove);
  });
});
