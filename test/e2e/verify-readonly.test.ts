import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveManifest } from '../helpers/archive-manifest.js';
import { othersCanRunCli, runCli, runCliJson, tempDir, type CliOptions } from '../helpers/cli.js';

interface Difference {
  path: string;
  change: 'added' | 'removed' | 'changed';
  type: string;
  fields?: Record<string, { old: string | number | null; new: string | number | null }>;
}

interface Verify {
  source: string;
  baseline: 'created' | 'compared';
  baselineAt: string;
  baselinePath: string;
  entries: number;
  identical: boolean;
  replaced?: boolean;
  differences: Difference[];
}

interface StoredEntry {
  path: string;
  type: string;
  unreadable?: string;
  sha256?: string;
  target?: string;
}

/** A small archive with what real ones hold: nested folders, hidden and junk files, symlinks. */
function makeArchive(root: string): void {
  fs.mkdirSync(path.join(root, '2019', 'holiday'), { recursive: true });
  fs.mkdirSync(path.join(root, '@eaDir'));
  for (const name of ['a.jpg', 'b.jpg', 'c.jpg', 'd.jpg', '2019/holiday/e.mov', '2019/f.png']) {
    fs.writeFileSync(path.join(root, name), randomBytes(4096 + name.length));
  }
  fs.writeFileSync(path.join(root, '.DS_Store'), 'junk');
  fs.writeFileSync(path.join(root, '._a.jpg'), 'resource fork');
  fs.writeFileSync(path.join(root, '@eaDir', 'thumb.jpg'), 'synology');
  fs.symlinkSync('a.jpg', path.join(root, 'link-to-a'));
  fs.symlinkSync('/nonexistent/target', path.join(root, 'broken-link'));
  fs.chmodSync(path.join(root, 'd.jpg'), 0o644);
}

function byPath(differences: readonly Difference[], rel: string): Difference {
  const found = differences.find((d) => d.path === rel);
  if (!found) throw new Error(`no difference reported for ${rel}: ${JSON.stringify(differences)}`);
  return found;
}

describe('archivist verify-readonly', () => {
  const homeDir = tempDir('archivist-verify-home-');
  const sourceDir = tempDir('archivist-verify-source-');
  const home = path.join(homeDir.dir, 'home');
  const source = sourceDir.dir;

  /** Runs the command and proves, with the independent manifest, that running it changed nothing. */
  async function verify(args: string[] = [], options: CliOptions = {}) {
    const before = archiveManifest(source);
    const result = await runCli(['verify-readonly', 'photos', ...args], { home, ...options });
    expect(archiveManifest(source)).toEqual(before);
    return result;
  }

  async function verifyJson(args: string[] = []): Promise<{ code: number | null; doc: Verify }> {
    const result = await verify([...args, '--json']);
    return { code: result.code, doc: JSON.parse(result.stdout) as Verify };
  }

  beforeAll(async () => {
    makeArchive(source);
    await runCliJson(['init'], { home });
    await runCliJson(['source', 'add', 'photos', source], { home });
  });

  afterAll(() => {
    homeDir.cleanup();
    sourceDir.cleanup();
  });

  it('stores a baseline in the home on the first call and says so', async () => {
    const { code, doc } = await verifyJson();
    expect(code).toBe(0);
    expect(doc).toMatchObject({ source: 'photos', baseline: 'created', identical: true, differences: [] });
    // Every entry, hidden, junk and symlinks included, plus the root itself.
    expect(doc.entries).toBe(archiveManifest(source).length);
    expect(path.dirname(doc.baselinePath)).toBe(path.join(fs.realpathSync(home), 'baselines'));
    expect(fs.existsSync(doc.baselinePath)).toBe(true);

    const stored = JSON.parse(fs.readFileSync(doc.baselinePath, 'utf8')) as { entries: StoredEntry[] };
    const entry = (rel: string) => stored.entries.find((e) => e.path === rel);
    expect(entry('.DS_Store')).toMatchObject({ type: 'file' });
    expect(entry('@eaDir/thumb.jpg')).toMatchObject({ type: 'file' });
    expect(entry('a.jpg')!.sha256).toMatch(/^[0-9a-f]{64}$/);
    // Symlinks are recorded with their target and never followed (no hash through them).
    expect(entry('link-to-a')).toMatchObject({ type: 'symlink', target: 'a.jpg' });
    expect(entry('link-to-a')!.sha256).toBeUndefined();
    expect(entry('broken-link')).toMatchObject({ type: 'symlink', target: '/nonexistent/target' });
  });

  it('reports an unchanged source as identical, exit 0', async () => {
    const { code, doc } = await verifyJson();
    expect(code).toBe(0);
    expect(doc).toMatchObject({ baseline: 'compared', identical: true, differences: [] });

    const human = await verify();
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('IDENTICAL');
  });

  it('reports every change, with the fields that changed, and exits 1', async () => {
    const modified = path.join(source, 'a.jpg');
    const sizeBefore = fs.statSync(modified).size;
    fs.writeFileSync(modified, randomBytes(sizeBefore)); // same size, other content
    const touched = path.join(source, 'b.jpg');
    fs.utimesSync(touched, new Date('2001-02-03T04:05:06Z'), new Date('2001-02-03T04:05:06Z'));
    fs.writeFileSync(path.join(source, '2019', '.hidden'), 'sidecar written by some tool');
    fs.rmSync(path.join(source, 'c.jpg'));
    fs.chmodSync(path.join(source, 'd.jpg'), 0o600);

    const { code, doc } = await verifyJson();
    expect(code).toBe(1);
    expect(doc.identical).toBe(false);

    const content = byPath(doc.differences, 'a.jpg');
    expect(content.change).toBe('changed');
    expect(Object.keys(content.fields!)).toEqual(expect.arrayContaining(['sha256', 'mtimeNs', 'ctimeNs']));
    expect(content.fields!.size).toBeUndefined();

    const mtime = byPath(doc.differences, 'b.jpg');
    expect(mtime.change).toBe('changed');
    expect(mtime.fields!.mtimeNs!.new).toBe(String(BigInt(Date.parse('2001-02-03T04:05:06Z')) * 1_000_000n));
    expect(mtime.fields!.sha256).toBeUndefined();

    expect(byPath(doc.differences, '2019/.hidden')).toMatchObject({ change: 'added', type: 'file' });
    expect(byPath(doc.differences, 'c.jpg')).toMatchObject({ change: 'removed', type: 'file' });

    const mode = byPath(doc.differences, 'd.jpg');
    expect(mode.change).toBe('changed');
    expect(mode.fields!.mode).toEqual({ old: 0o100644, new: 0o100600 });
    expect(mode.fields!.sha256).toBeUndefined();

    // The folders whose listing changed show it too.
    expect(byPath(doc.differences, '.').change).toBe('changed');
    expect(byPath(doc.differences, '2019').change).toBe('changed');
    // Nothing else is reported.
    expect(doc.differences.map((d) => d.path).sort()).toEqual(
      ['.', '2019', '2019/.hidden', 'a.jpg', 'b.jpg', 'c.jpg', 'd.jpg'].sort(),
    );

    const human = await verify();
    expect(human.code).toBe(1);
    expect(human.stdout).toContain('CHANGED: 7 difference(s)');
    expect(human.stdout).toMatch(/added\s+2019\/\.hidden/);
    expect(human.stdout).toMatch(/removed\s+c\.jpg/);
    expect(human.stdout).toMatch(/mode\s+0100644 → 0100600/);
    expect(human.stdout).toContain('2001-02-03T04:05:06.000000000Z');
  });

  it('--reset replaces the baseline; the next call is clean', async () => {
    const reset = await verifyJson(['--reset']);
    expect(reset.code).toBe(0);
    expect(reset.doc).toMatchObject({ baseline: 'created', replaced: true, differences: [] });

    const { code, doc } = await verifyJson();
    expect(code).toBe(0);
    expect(doc).toMatchObject({ baseline: 'compared', identical: true, baselineAt: reset.doc.baselineAt });
  });

  it('refuses an unknown source with exit 2', async () => {
    const result = await runCli(['verify-readonly', 'nope'], { home });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('nope');
  });
});

// Root reads through permissions, so as root the command runs as `nobody` over a home it owns; `nobody`
// must then be able to reach the clone (see othersCanRunCli).
const asRoot = process.getuid?.() === 0;

describe.skipIf(asRoot && !othersCanRunCli())('archivist verify-readonly on unreadable entries', () => {
  const user: CliOptions = asRoot ? { uid: 65534, gid: 65534 } : {};
  // Made in beforeAll, not while the file is collected: a skipped block runs no afterAll to remove them.
  let homeDir: ReturnType<typeof tempDir>;
  let sourceDir: ReturnType<typeof tempDir>;
  let home: string;
  let source: string;

  beforeAll(async () => {
    homeDir = tempDir('archivist-verify-home-');
    sourceDir = tempDir('archivist-verify-source-');
    home = path.join(homeDir.dir, 'home');
    source = sourceDir.dir;
    fs.writeFileSync(path.join(source, 'ok.jpg'), randomBytes(1000));
    fs.writeFileSync(path.join(source, 'secret.jpg'), randomBytes(1000));
    fs.mkdirSync(path.join(source, 'private'));
    fs.writeFileSync(path.join(source, 'private', 'inside.jpg'), randomBytes(1000));
    fs.chmodSync(path.join(source, 'secret.jpg'), 0o000);
    fs.chmodSync(path.join(source, 'private'), 0o000);
    await runCliJson(['init'], { home });
    await runCliJson(['source', 'add', 'locked', source], { home });
    if (asRoot) {
      for (const dir of [homeDir.dir, sourceDir.dir]) fs.chmodSync(dir, 0o755);
      for (const entry of [
        home,
        ...fs.readdirSync(home, { recursive: true, encoding: 'utf8' }).map((e) => path.join(home, e)),
      ]) {
        fs.lchownSync(entry, 65534, 65534);
      }
    }
  });

  afterAll(() => {
    fs.chmodSync(path.join(source, 'private'), 0o755);
    homeDir.cleanup();
    sourceDir.cleanup();
  });

  it('records unreadable files and folders instead of failing, and compares them as unchanged', async () => {
    const before = archiveManifest(source);
    const first = await runCli(['verify-readonly', 'locked', '--json'], { home, ...user });
    expect(first.code, first.stderr).toBe(0);
    const created = JSON.parse(first.stdout) as Verify;
    const stored = JSON.parse(fs.readFileSync(created.baselinePath, 'utf8')) as { entries: StoredEntry[] };
    const entry = (rel: string) => stored.entries.find((e) => e.path === rel);
    expect(entry('secret.jpg')).toMatchObject({ type: 'file', unreadable: 'permission-denied' });
    expect(entry('secret.jpg')!.sha256).toBeUndefined();
    expect(entry('private')).toMatchObject({ type: 'dir', unreadable: 'permission-denied' });
    expect(entry('ok.jpg')!.sha256).toMatch(/^[0-9a-f]{64}$/);

    const second = await runCli(['verify-readonly', 'locked', '--json'], { home, ...user });
    expect(second.code, second.stderr).toBe(0);
    expect((JSON.parse(second.stdout) as Verify).differences).toEqual([]);
    expect(archiveManifest(source)).toEqual(before);
  });
});
