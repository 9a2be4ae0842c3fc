import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { archiveManifest } from '../helpers/archive-manifest.js';
import { CLI, REPO_ROOT, runCli, runCliJson, tempDir } from '../helpers/cli.js';
import { makeJpeg, sha256 } from '../helpers/media.js';
import { describeEachDialect } from '../helpers/postgres.js';

/**
 * File names as they are on real disks (issue 14, items 13 and 15), through the built CLI and a real
 * server: names that are not UTF-8 (Latin-1 from an old NAS share, in a file and in a folder name), a
 * UTF-8 name that spells what looks like an escape, and names full of terminal control sequences. Each
 * is cataloged, hashed, processed by a real `core` run and served; human output never carries a raw
 * control character while --json keeps every name exact; the archive is identical before and after.
 */

const latin1 = (text: string) => Buffer.from(text, 'latin1');
const MEDIA = path.join(REPO_ROOT, 'test', 'fixtures', 'media');
/** Writes a file whose path is given as bytes. */
function putBytes(root: string, rel: Buffer, data: Buffer): void {
  const file = Buffer.concat([Buffer.from(`${root}/`), rel]);
  fs.mkdirSync(Buffer.concat([Buffer.from(`${root}/`), rel.subarray(0, rel.lastIndexOf(0x2f) + 1)]), {
    recursive: true,
  });
  fs.writeFileSync(file, data);
}

/** A raw control character anywhere but in a line break: what must never reach a terminal. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x09\x0b-\x1f\x7f\u0080-\u009f\u202a-\u202e\u2066-\u2069]/;

const CTRL_NAME = 'ctrl\x01\x1b[31mred\x07.jpg';
const CTRL_SHOWN = 'ctrl\\x01\\x1b[31mred\\x07.jpg';
const BROKEN_NAME = 'broken\x1b[2J\u202e.jpg';
const LINK_NAME = 'link\x1b[5m';
const FIFO_NAME = 'fifo\r\x1b[1A.jpg';

interface AssetJson {
  id: string;
  mediaType: string;
  locations: { source: string; path: string; absolutePath: string; status: string }[];
  metadata: { width: number | null; height: number | null } | null;
  artifacts: { id: string; kind: string; step: string; sha256: string }[];
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!();
});

describeEachDialect('file names that are not UTF-8 or hold control characters', (dialect) => {
  it('are cataloged, processed, served and shown escaped; the archive stays identical', async () => {
    const { dir: root, cleanup } = tempDir('archivist-names-');
    cleanups.push(cleanup);
    // The source root itself has a control character in its name, so every absolute path does too.
    const archive = path.join(root, 'arch\x1b[7mive');
    const home = path.join(root, 'home');
    fs.mkdirSync(archive);
    const files = new Map<string, Buffer>([
      ['old/caf\\xe9.jpg', await makeJpeg(1)], // Latin-1 é
      ['d\\xff/inner.jpg', await makeJpeg(2)], // a folder whose name is not UTF-8
      ['lit\\xe9.jpg', await makeJpeg(3)], // Latin-1 again, next to ...
      ['lit\\x5cxe9.jpg', await makeJpeg(4)], // ... a UTF-8 name that really holds `\xe9`
      [CTRL_NAME, await makeJpeg(5)],
      // A phone HEIF and a video, so the decoders that are not libvips get such a name too.
      ['ph\\xf6to.heif', fs.readFileSync(path.join(MEDIA, 'heic', 'samplefilehub.heif'))],
      ['clips/p\\xe9.mov', fs.readFileSync(path.join(MEDIA, 'videos', 'portrait_hevc.mov'))],
    ]);
    putBytes(archive, latin1('old/caf\xe9.jpg'), files.get('old/caf\\xe9.jpg')!);
    putBytes(archive, latin1('d\xff/inner.jpg'), files.get('d\\xff/inner.jpg')!);
    putBytes(archive, latin1('lit\xe9.jpg'), files.get('lit\\xe9.jpg')!);
    putBytes(archive, Buffer.from('lit\\xe9.jpg'), files.get('lit\\x5cxe9.jpg')!);
    putBytes(archive, Buffer.from(CTRL_NAME), files.get(CTRL_NAME)!);
    putBytes(archive, latin1('ph\xf6to.heif'), files.get('ph\\xf6to.heif')!);
    putBytes(archive, latin1('clips/p\xe9.mov'), files.get('clips/p\\xe9.mov')!);
    // Not a picture: its items fail, so the run's failure list names it.
    putBytes(archive, Buffer.from(BROKEN_NAME), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]));
    // What the catalog reports, by names that would recolour the terminal and blink.
    fs.mkdirSync(path.join(root, 'outside'));
    fs.symlinkSync(path.join(root, 'outside'), path.join(archive, LINK_NAME));
    execFileSync('mkfifo', [path.join(archive, FIFO_NAME)]);
    // A loop under a folder whose name is not UTF-8: found as one, with the exact names.
    fs.symlinkSync('..', latin1(`${archive}/d\xff/up`));
    let before = archiveManifest(archive);
    expect(before.filter((e) => e.type === 'file')).toHaveLength(8);
    expect(before.filter((e) => e.type === 'symlink' || e.type === 'other')).toHaveLength(3);

    const cli = async (args: string[]) => {
      const result = await runCli(args, { home });
      expect(archiveManifest(archive), `archivist ${args.join(' ')} changed the archive`).toEqual(before);
      return result;
    };
    const human = async (args: string[], code = 0) => {
      const result = await cli(args);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(code);
      expect(result.stdout, `raw control character in \`${args.join(' ')}\``).not.toMatch(CONTROL);
      expect(result.stderr).not.toMatch(CONTROL);
      return result.stdout;
    };

    const database = await dialect.newDatabase();
    expect((await cli(['init', ...(database ? ['--database', database] : [])])).code).toBe(0);
    expect((await cli(['source', 'add', 'nas', archive])).code).toBe(0);
    const baseline = await runCliJson<{ entries: number }>(['verify-readonly', 'nas'], { home });
    expect(baseline.entries).toBe(before.length);
    expect(await human(['source', 'list'])).toContain('arch\\x1b[7mive');

    // The catalog: every file, none an error; the paths in their lossless text form.
    const [summary] = await runCliJson<{ new: number; errors: { path: string; reason: string }[] }[]>(
      ['catalog'],
      { home },
    );
    expect(summary!.errors.map((e) => [e.path, e.reason]).sort()).toEqual([
      ['d\\xff/up', 'symlink-loop'],
      [FIFO_NAME, 'not-a-regular-file'],
      [LINK_NAME, 'symlink-outside-source'],
    ]);
    expect(summary!.new).toBe(8);
    const assets = await runCliJson<AssetJson[]>(['assets'], { home });
    const byPath = new Map(assets.map((a) => [a.locations[0]!.path, a]));
    for (const [text, data] of files) expect(byPath.get(text)?.id, text).toBe(sha256(data));
    // JSON keeps the control characters exactly as they are in the name.
    expect(byPath.get(CTRL_NAME)?.locations[0]!.absolutePath).toBe(path.join(archive, CTRL_NAME));
    expect(byPath.has(BROKEN_NAME)).toBe(true);

    const listing = await human(['assets']);
    for (const shown of ['nas:old/caf\\xe9.jpg', 'nas:d\\xff/inner.jpg', `nas:${CTRL_SHOWN}`])
      expect(listing).toContain(shown);
    expect(listing).toContain('broken\\x1b[2J\\xe2\\x80\\xae.jpg');
    const again = await human(['catalog']);
    expect(again).toContain('unchanged 8');
    expect(again).toContain('fifo\\x0d\\x1b[1A.jpg: device, FIFO or socket');
    expect(again).toMatch(/link\\x1b\[5m: symlink to .*outside/);

    // A real `core` run: metadata and thumbnail of every picture; the broken file's items fail.
    expect((await cli(['collection', 'create', 'all'])).code).toBe(0);
    const run = await cli(['run', 'start', 'core', '--collection', 'all', '--workers', '2', '--json']);
    expect(run.code, run.stderr).toBe(3); // finished, with the broken file's failure
    const runJson = JSON.parse(run.stdout) as {
      id: string;
      status: string;
      counts: { done: number; failed: number };
      failures: { path: string; step: string }[];
    };
    expect(runJson.status).toBe('completed');
    expect(runJson.counts.done).toBe(14); // 7 pictures and videos x 2 steps
    expect(runJson.failures.map((f) => [f.path, f.step]).sort()).toEqual([
      [`nas:${BROKEN_NAME}`, 'metadata'],
      [`nas:${BROKEN_NAME}`, 'thumbnail'],
    ]);
    const shown = await human(['run', 'show', runJson.id]);
    expect(shown).toContain('nas:broken\\x1b[2J\\xe2\\x80\\xae.jpg');
    expect(await human(['run', 'watch', runJson.id], 3)).toContain('nas:broken\\x1b[2J');

    for (const text of files.keys()) {
      const asset = await runCliJson<AssetJson>(['asset', byPath.get(text)!.id], { home });
      expect(asset.artifacts.map((a) => a.step).sort(), text).toEqual(['metadata', 'thumbnail']);
      expect(asset.metadata?.width, text).toBeGreaterThan(0);
      expect(asset.metadata?.height, text).toBeGreaterThan(0);
    }
    // A path as it was printed finds its asset.
    const printed = await human(['asset', path.join(archive, 'old/caf\\xe9.jpg')]);
    expect(printed).toContain(`Asset ${sha256(files.get('old/caf\\xe9.jpg')!)}`);
    expect(printed).toContain('arch\\x1b[7mive/old/caf\\xe9.jpg');
    expect(await human(['asset', path.join(archive, CTRL_SHOWN)])).toContain(sha256(files.get(CTRL_NAME)!));

    // The server sends the exact bytes of each original and its thumbnail.
    const server = spawn(process.execPath, [CLI, '--home', home, 'serve', '--port', '0', '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanups.push(() => server.kill('SIGKILL'));
    let out = '';
    server.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    while (!out.includes('}')) await once(server.stdout, 'data');
    const api = (route: string) => new URL(route, (JSON.parse(out) as { url: string }).url).href;
    for (const [text, data] of files) {
      const id = byPath.get(text)!.id;
      const original = await fetch(api(`/api/assets/${id}/original`));
      expect(original.status, text).toBe(200);
      expect(Buffer.from(await original.arrayBuffer()).equals(data), text).toBe(true);
      const detail = (await (await fetch(api(`/api/assets/${id}`))).json()) as AssetJson;
      expect(detail.locations[0]!.path).toBe(text);
      const thumbnail = detail.artifacts.find((a) => a.kind === 'thumbnail')!;
      const file = await fetch(api(`/api/artifacts/${thumbnail.id}/file`));
      expect(file.status).toBe(200);
      expect(sha256(Buffer.from(await file.arrayBuffer()))).toBe(thumbnail.sha256);
    }
    server.kill('SIGTERM');
    await once(server, 'exit');
    expect(archiveManifest(archive)).toEqual(before);

    // verify-readonly compares every name exactly, and shows a difference escaped.
    expect(await human(['verify-readonly', 'nas'])).toContain('IDENTICAL');
    fs.utimesSync(path.join(archive, CTRL_NAME), new Date(2001, 1, 1), new Date(2001, 1, 1));
    fs.utimesSync(latin1(`${archive}/old/caf\xe9.jpg`), new Date(2001, 1, 1), new Date(2001, 1, 1));
    before = archiveManifest(archive); // changed on purpose, by the test
    const differences = await human(['verify-readonly', 'nas'], 1);
    expect(differences).toContain(`changed  ${CTRL_SHOWN}`);
    expect(differences).toContain('changed  old/caf\\xe9.jpg');
    expect(differences).toMatch(/2 difference\(s\)/);
  });
});
