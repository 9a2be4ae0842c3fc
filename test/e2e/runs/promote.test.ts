import { expect, it } from 'vitest';
import { describeEachDialect } from '../../helpers/postgres.js';
import { createFixture, fixturesPerTest } from './harness.js';
import type { ArtifactJson, RunJson } from './types.js';

/**
 * `run promote` (issue 16): a sandbox run a user is happy with becomes production without computing
 * anything again. Its artifacts stop expiring and become current; their lineage still names the sandbox
 * run that made them, and says which production run kept them; a later production run reuses them.
 */

const track = fixturesPerTest({ realMedia: false });

describeEachDialect('run promote', (dialect) => {
  it('keeps a sandbox run as production: current, kept, lineage says so, reused by the next run', async () => {
    // notes.txt is `other`: the step does not apply, and that skip is carried over as it is.
    const f = track(await createFixture({ dialect: dialect.name, files: 3, extra: ['notes.txt'] }));
    const sandbox = await f.json<RunJson>([
      'run',
      'start',
      'testsleep',
      '--collection',
      'c',
      '--set',
      'write.ms=0',
    ]);
    expect(sandbox).toMatchObject({ policy: 'sandbox', status: 'completed' });
    const before = f.artifacts();
    expect(before).toHaveLength(3);
    expect(before.every((a) => a.policy === 'sandbox' && a.expires_at !== null && a.is_current === 0)).toBe(
      true,
    );

    const promoted = await f.json<RunJson & { promotion: { kept: number; skipped: number } }>([
      'run',
      'promote',
      sandbox.id,
    ]);
    expect(promoted).toMatchObject({
      policy: 'production',
      status: 'completed',
      parentRunId: sandbox.id,
      promotion: { kept: 3, skipped: 1 },
    });
    expect(promoted.counts).toMatchObject({ total: 4, done: 3, skipped: 1, reused: 3, failed: 0 });
    expect(promoted.statusReason).toContain(`promoted from sandbox run ${sandbox.id}`);
    expect((await f.cli(['run', 'show', promoted.id])).stdout).toMatch(
      new RegExp(`promoted from\\s+${sandbox.id}`),
    );
    const listed = await f.json<{ id: string; promotedFrom: string | null }[]>(['run', 'list']);
    expect(listed.find((r) => r.id === promoted.id)?.promotedFrom).toBe(sandbox.id);
    expect(listed.find((r) => r.id === sandbox.id)?.promotedFrom).toBeNull();

    // The same artifacts, not copies: kept, current, and their lineage names the run that made them.
    const after = f.artifacts();
    expect(after.map((a) => a.id).sort()).toEqual(before.map((a) => a.id).sort());
    expect(after.every((a) => a.policy === 'production' && a.expires_at === null && a.is_current === 1)).toBe(
      true,
    );
    const artifact = await f.json<ArtifactJson>(['artifact', after[0]!.id]);
    expect(artifact.lineage.runId).toBe(sandbox.id);
    expect(artifact.promotedBy?.runId).toBe(promoted.id);
    const human = await f.cli(['artifact', after[0]!.id]);
    expect(human.stdout).toContain(`by production run ${promoted.id}`);

    // gc keeps them, and a production run over the same collection reuses every one.
    await f.json(['gc']);
    expect(f.storeFiles()).toHaveLength(3);
    const next = await f.json<RunJson>([
      'run',
      'start',
      'testsleep',
      '--collection',
      'c',
      '--policy',
      'production',
      '--set',
      'write.ms=0',
    ]);
    expect(next.counts).toMatchObject({ done: 3, reused: 3 });
    expect(f.artifacts()).toHaveLength(3);

    // Twice is refused (it is production now), and so is a production run.
    const again = await f.cli(['run', 'promote', promoted.id]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('is a production run');
    f.verify();
  });

  it('refuses a run that is still running, and changes nothing', async () => {
    const f = track(await createFixture({ dialect: dialect.name, files: 4 }));
    const { id } = await f.startDetached('testsleep', ['--workers', '1', '--set', 'write.ms=3000']);
    await f.waitFor(id, (run) => run.status === 'running', 'the run to start');
    const refused = await f.cli(['run', 'promote', id]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('only a run that has stopped can be promoted');
    // count(*) is a bigint on PostgreSQL, which the driver hands over as a string.
    expect(
      Number(f.query<{ n: unknown }>("select count(*) as n from runs where policy = 'production'")[0]!.n),
    ).toBe(0);
    await f.cli(['run', 'cancel', id]);
    await f.waitFor(id, (run) => run.status === 'cancelled', 'the cancel');
    f.verify();
  });
});
