import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { archiveManifest, type ManifestEntry } from '../../helpers/archive-manifest.js';
import { REPO_ROOT, runCli, runCliJson, tempDir } from '../../helpers/cli.js';
import { catalogedHome, describeEachDialect } from '../../helpers/postgres.js';
import type { AssetJson, RunJson } from './types.js';

/**
 * Issue 14, hostile input, through the built CLI: an archive holding a real video and an HLS playlist
 * renamed `holiday.mp4` that names a URL on a port this test listens on and a local file outside the
 * archive (a FIFO: any open of it is seen). A `core` run finishes (exit 3, failed items), the playlist's
 * thumbnail item failed as `unsupported-format` naming the HLS kind, the real video's items are done, the
 * listener was never contacted, the local file never opened, and the archive is unchanged.
 */

let root: string;
let archive: string;
let home: string;
let cleanup: () => void;
let before: ManifestEntry[];
let spy: net.Server;
const contacts: string[] = [];
let secret: string;
let secretOpened = false;
let secretWriter: Promise<fs.promises.FileHandle>;

describeEachDialect('a playlist among the originals', (dialect) => {
  beforeAll(async () => {
    // Each dialect's run gets a listener and a secret of its own, watched afresh.
    contacts.length = 0;
    secretOpened = false;
    ({ dir: root, cleanup } = tempDir('archivist-hostile-run-'));
    archive = path.join(root, 'archive');
    home = path.join(root, 'home');
    fs.mkdirSync(archive);
    spy = net.createServer((socket) => {
      contacts.push(String(socket.remotePort));
      socket.destroy();
    });
    await new Promise<void>((resolve) => spy.listen(0, '127.0.0.1', () => resolve()));
    const port = (spy.address() as net.AddressInfo).port;
    secret = path.join(root, 'outside', 'secret.ts');
    fs.mkdirSync(path.dirname(secret));
    execFileSync('mkfifo', [secret]);
    secretWriter = fs.promises.open(secret, 'w');
    void secretWriter.then(() => (secretOpened = true));

    fs.copyFileSync(
      path.join(REPO_ROOT, 'test', 'fixtures', 'media', 'videos', 'landscape_h264.mp4'),
      path.join(archive, 'clip.mp4'),
    );
    const playlist = [
      '#EXTM3U',
      '#EXT-X-TARGETDURATION:10',
      '#EXT-X-MEDIA-SEQUENCE:0',
      '#EXTINF:10,',
      `http://127.0.0.1:${port}/segment0.ts`,
      '#EXTINF:10,',
      `file:${secret}`,
      '#EXT-X-ENDLIST',
      '',
    ];
    fs.writeFileSync(path.join(archive, 'holiday.mp4'), playlist.join('\n'));
    before = archiveManifest(archive);
    await catalogedHome(dialect, home, archive);
  }, 120_000);

  afterAll(async () => {
    const reader = fs.openSync(secret, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    await (await secretWriter).close();
    fs.closeSync(reader);
    await new Promise<void>((resolve) => spy.close(() => resolve()));
    cleanup();
  });

  it('fails its thumbnail item with a reason, the run goes on, nothing it names is opened', async () => {
    const result = await runCli(['run', 'start', 'core', '--collection', 'all', '--workers', '1', '--json'], {
      home,
    });
    expect(result.code, result.stderr).toBe(3);
    const run = JSON.parse(result.stdout) as RunJson;
    expect(run.status).toBe('completed');

    const thumbnailFailure = run.failures.find((f) => f.step === 'thumbnail');
    expect(thumbnailFailure).toMatchObject({ path: 'archive:holiday.mp4', reason: 'unsupported-format' });
    expect(thumbnailFailure!.message).toMatch(/of the hls kind, which makes ffmpeg open the other files/);
    expect(run.failures.every((f) => f.path === 'archive:holiday.mp4')).toBe(true);

    const clip = await runCliJson<AssetJson>(['asset', path.join(archive, 'clip.mp4')], { home });
    expect(clip.artifacts.map((a) => a.kind).sort()).toEqual(['metadata', 'thumbnail']);

    expect(contacts, 'the test listener must never be contacted').toEqual([]);
    expect(secretOpened, 'the local file outside the archive must never be opened').toBe(false);
    expect(archiveManifest(archive)).toEqual(before);
  }, 120_000);
});
