import { spawn } from 'node:child_process';
import { expect, it } from 'vitest';
import { describeEachDialect } from '../../helpers/postgres.js';
import { CLI, REPO_ROOT } from '../../helpers/cli.js';
import { createFixture, fixturesPerTest } from './harness.js';
import { waitUntilDead } from './processes.js';

/**
 * `run watch` while the run's coordinator dies (issue 14, item 10): the watcher must notice by itself and
 * stop with the run `interrupted` (exit 4), not show `running` until some later command looks.
 */

const track = fixturesPerTest({ realMedia: false });

describeEachDialect('run watch', (dialect) => {
  it('reports interrupted and exits 4 when the coordinator is killed while it watches', async () => {
    const f = track(await createFixture({ dialect: dialect.name, files: 12 }));
    const { id, coordinatorPid } = await f.startDetached('testsleep', [
      '--workers',
      '1',
      '--set',
      'write.ms=2000',
    ]);
    await f.waitFor(id, (run) => run.status === 'running', 'the run to start');
    const watcher = spawn(process.execPath, [CLI, '--home', f.home, 'run', 'watch', id], {
      cwd: REPO_ROOT,
      env: { ...f.env, ARCHIVIST_HOME: '', CI: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    f.track(watcher.pid!);
    let out = '';
    const exited = new Promise<number | null>((resolve) => watcher.on('close', resolve));
    // The watcher must have seen the run alive (a line saying `running`) before the kill: a watcher that
    // starts after it would learn of the death from its start-up check, which is not what is tested.
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes(`Run ${id} running`)) resolve();
      };
      watcher.stdout.on('data', onData);
      watcher.stderr.on('data', onData);
      void exited.then((code) => reject(new Error(`watch exited ${code} before the kill:\n${out}`)));
    });
    process.kill(coordinatorPid, 'SIGKILL');
    await waitUntilDead([coordinatorPid]);
    expect(await exited, out).toBe(4);
    expect(out).toContain(`Run ${id} interrupted (coordinator (pid ${coordinatorPid}) is gone)`);
    const shown = await f.show(id);
    expect(shown.status).toBe('interrupted');
    expect(shown.counts.running).toBe(0);
    await f.expectNoProcessLeft();
    f.verify();
  });
});
