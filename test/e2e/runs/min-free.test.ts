import { expect, it } from 'vitest';
import { writeDatabase } from '../../helpers/db-query.js';
import { describeEachDialect } from '../../helpers/postgres.js';
import { diskSpace, formatSize } from '../../../src/runs/disk-threshold.js';
import { createFixture, fixturesPerTest } from './harness.js';
import type { RunJson } from './types.js';

/**
 * A disk threshold no disk can meet (issue 14, item 9): `--min-free` at least the size of the store's
 * whole filesystem (`999TB`, `100%`) used to make a run that paused at once, and again after every
 * resume. `run start`, `run retry` and `run resume` refuse it with exit 2, naming the filesystem's
 * size, before any record is written or changed.
 */

const track = fixturesPerTest();

describeEachDialect('--min-free larger than the filesystem', (dialect) => {
  it('is refused by run start, retry and resume with exit 2 naming the size, writing nothing', async () => {
    const f = track(await createFixture({ dialect: dialect.name, files: 3 }));
    const total = formatSize(diskSpace(f.home).total);
    const refused = async (args: string[]) => {
      const result = await f.cli(args);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toMatch(
        /--min-free (999TB|100%) asks for .* free, but the filesystem of the artifact store/,
      );
      expect(result.stderr).toContain(`is ${total} in all`);
      expect(result.stdout).toBe('');
    };

    for (const spec of ['999TB', '100%']) {
      await refused(['run', 'start', 'testsleep', '--collection', 'c', '--min-free', spec]);
      await refused(['run', 'start', 'testsleep', '--collection', 'c', '--min-free', spec, '--detach']);
    }
    expect(f.query('select id from runs')).toEqual([]);
    expect(f.query('select id from work_items')).toEqual([]);

    // A completed run to retry, and a cancelled one to resume.
    const started = await f.json<RunJson>([
      'run',
      'start',
      'testsleep',
      '--collection',
      'c',
      '--min-free',
      '1MB',
    ]);
    expect(started.status).toBe('completed');
    await refused(['run', 'retry', started.id, '--min-free', '999TB']);
    expect(f.query('select id from runs')).toHaveLength(1);

    const second = await f.startDetached('testsleep', ['--set', 'write.ms=60000', '--min-free', '1MB']);
    await f.waitFor(second.id, (run) => run.status === 'running', 'the second run to start');
    const cancelled = await f.json<RunJson>(['run', 'cancel', second.id]);
    expect(cancelled.status).toBe('cancelled');
    const items = f.items(second.id);
    await refused(['run', 'resume', second.id, '--min-free', '999TB']);
    const after = await f.show(second.id);
    expect(after.status).toBe('cancelled');
    expect(after.minFree).toEqual({ bytes: 1_000_000, spec: '1MB' });
    expect(f.items(second.id)).toEqual(items);

    // A recorded threshold the store's disk cannot meet any more (the home moved to a smaller disk):
    // resuming without a new --min-free says so, and names the way out.
    writeDatabase(f.database, 'update runs set min_free_bytes = ?, min_free_spec = ? where id = ?', [
      diskSpace(f.home).total * 2,
      '200%ofold',
      second.id,
    ]);
    const stale = await f.cli(['run', 'resume', second.id]);
    expect(stale.code).toBe(2);
    expect(stale.stderr).toContain("the run's --min-free 200%ofold asks for");
    expect(stale.stderr).toMatch(/Give a --min-free below/);
    expect((await f.show(second.id)).status).toBe('cancelled');
    f.verify();
  });

  it("is refused when it is the policy's default in config.json, and says so", async () => {
    const f = track(
      await createFixture({
        dialect: dialect.name,
        files: 1,
        config: (config) => {
          config.runs = { ...config.runs, minFree: { sandbox: '999TB', production: '1GB' } };
        },
      }),
    );
    const result = await f.cli(['run', 'start', 'testsleep', '--collection', 'c']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('runs.minFree.sandbox 999TB (config.json) asks for 999.00 TB free');
    expect(f.query('select id from runs')).toEqual([]);
    // The other policy's default fits: that run goes ahead.
    const production = await f.cli([
      'run',
      'start',
      'testsleep',
      '--collection',
      'c',
      '--policy',
      'production',
    ]);
    expect(production.code, production.stderr).toBe(0);
  });
});
