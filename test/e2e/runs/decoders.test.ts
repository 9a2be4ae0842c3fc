import fs from 'node:fs';
import path from 'node:path';
import { ExifTool } from 'exiftool-vendored';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ArtifactJson } from '../../../src/artifacts/artifact-json.js';
import { archiveManifest, type ManifestEntry } from '../../helpers/archive-manifest.js';
import { REPO_ROOT, runCli, runCliJson, tempDir } from '../../helpers/cli.js';
import { catalogedHome, describeEachDialect } from '../../helpers/postgres.js';
import type { RunJson } from './types.js';

/**
 * Issue 13 through the built CLI: a `core` run over a JPEG, an iPhone HEIC, a RAW and a video records,
 * per artifact, the decoder chain that really ran, and `artifact` and `asset` show it; turning the native
 * HEIC path off is a new cache key, so the next run makes new thumbnails instead of reusing those of the
 * other decoder. On both dialects: the decoder is part of the cache key the truth store matches. (Drill J, files changed after the catalog, is changed-files.test.ts, on both dialects.)
 */

const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'media');
let root: string;
let archive: string;
let home: string;
let cleanup: () => void;
let before: ManifestEntry[];

async function rawWithPreview(file: string): Promise<void> {
  await sharp({ create: { width: 64, height: 48, channels: 3, background: '#808080' } })
    .tiff()
    .toFile(file);
  const preview = path.join(root, 'preview.jpg');
  await sharp(path.join(FIXTURES, 'jpg', 'Canon_40D.jpg'))
    .jpeg()
    .toFile(preview);
  const writer = new ExifTool({ maxProcs: 1 });
  await writer.write(file, {}, { writeArgs: ['-overwrite_original', `-PreviewImage<=${preview}`] });
  await writer.end();
}

async function thumbnailsOf(runId: string): Promise<Map<string, ArtifactJson>> {
  const byName = new Map<string, ArtifactJson>();
  for (const name of ['camera.jpg', 'phone.HEIC', 'camera.dng', 'clip.mp4']) {
    const asset = await runCliJson<{ artifacts: ArtifactJson[] }>(['asset', path.join(archive, name)], {
      home,
    });
    const thumbnail = asset.artifacts.find((a) => a.kind === 'thumbnail' && a.runId === runId);
    if (thumbnail) byName.set(name, thumbnail);
  }
  return byName;
}

describeEachDialect('lineage names the decoder chain that ran', (dialect) => {
  beforeAll(async () => {
    ({ dir: root, cleanup } = tempDir('archivist-decoders-'));
    archive = path.join(root, 'archive');
    home = path.join(root, 'home');
    fs.mkdirSync(archive);
    fs.copyFileSync(path.join(FIXTURES, 'jpg', 'Canon_40D.jpg'), path.join(archive, 'camera.jpg'));
    fs.copyFileSync(path.join(FIXTURES, 'heic', 'IMG_5195.HEIC'), path.join(archive, 'phone.HEIC'));
    fs.copyFileSync(path.join(FIXTURES, 'videos', 'landscape_h264.mp4'), path.join(archive, 'clip.mp4'));
    await rawWithPreview(path.join(archive, 'camera.dng'));
    before = archiveManifest(archive);
    await catalogedHome(dialect, home, archive);
  }, 120_000);
  afterAll(() => cleanup());

  let first: RunJson;

  it('records it per artifact, and `artifact` shows it (JSON and human)', async () => {
    first = await runCliJson<RunJson>(['run', 'start', 'core', '--collection', 'all', '--workers', '1'], {
      home,
    });
    expect(first.status).toBe('completed');
    expect(first.counts.failed).toBe(0);
    const thumbs = await thumbnailsOf(first.id);
    expect(thumbs.get('camera.jpg')!.lineage.decoder).toMatch(/^sharp \d+\.\d+\.\d+ \(libvips [\d.]+\)$/);
    expect(thumbs.get('phone.HEIC')!.lineage.decoder).toMatch(
      /^vipsthumbnail \d+\.\d+\.\d+ \(libheif \d+\.\d+\.\d+\) → sharp \d+\.\d+\.\d+$/,
    );
    expect(thumbs.get('camera.dng')!.lineage.decoder).toMatch(
      /^exiftool \d+\.\d+ PreviewImage → sharp \d+\.\d+\.\d+ \(libvips [\d.]+\)$/,
    );
    expect(thumbs.get('clip.mp4')!.lineage.decoder).toMatch(
      /^ffmpeg \S+ frame at \d+\.\d s → sharp \d+\.\d+\.\d+$/,
    );

    const heic = thumbs.get('phone.HEIC')!;
    const json = await runCliJson<ArtifactJson>(['artifact', heic.id], { home });
    expect(json.lineage.decoder).toBe(heic.lineage.decoder);
    const human = await runCli(['artifact', heic.id], { home });
    expect(human.stdout).toContain(`decoder   ${heic.lineage.decoder}`);
    const asset = await runCli(['asset', path.join(archive, 'phone.HEIC')], { home });
    expect(asset.stdout).toContain(`decoder ${heic.lineage.decoder}`);
  });

  it('a change of decoder is a new cache key: with the native path off, HEIC is made again by WebAssembly', async () => {
    const configFile = path.join(home, 'config.json');
    const config = JSON.parse(fs.readFileSync(configFile, 'utf8')) as { tools: Record<string, unknown> };
    fs.writeFileSync(
      configFile,
      JSON.stringify({ ...config, tools: { ...config.tools, vipsthumbnail: false } }),
    );
    try {
      const second = await runCliJson<RunJson>(
        ['run', 'start', 'core', '--collection', 'all', '--workers', '1', '--policy', 'sandbox'],
        { home },
      );
      expect(second.status).toBe('completed');
      const thumbs = await thumbnailsOf(second.id);
      const heic = thumbs.get('phone.HEIC');
      expect(heic, 'a new HEIC thumbnail, not a reuse of the native one').toBeDefined();
      expect(heic!.lineage.decoder).toMatch(/^libheif-js \S+ → sharp \S+$/);
      // The metadata step's tools did not change: its artifacts are reused.
      expect((second as unknown as { stats: { reused?: number } }).stats).toBeDefined();
    } finally {
      fs.writeFileSync(configFile, JSON.stringify(config));
    }
    expect(archiveManifest(archive)).toEqual(before);
  });
});
