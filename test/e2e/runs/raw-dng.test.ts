import fs from 'node:fs';
import path from 'node:path';
import { ExifTool } from 'exiftool-vendored';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ArtifactJson } from '../../../src/artifacts/artifact-json.js';
import { archiveManifest, type ManifestEntry } from '../../helpers/archive-manifest.js';
import { runCliJson, tempDir } from '../../helpers/cli.js';
import { catalogedHome, describeEachDialect } from '../../helpers/postgres.js';
import type { AssetJson, RunJson } from './types.js';

/**
 * Issue 13's RAW path end to end through the built CLI. The corpus has no camera RAW, so the test makes
 * a DNG as a converter would: a small TIFF "sensor" image, the DNG tags (DNGVersion, DNGBackwardVersion,
 * UniqueCameraModel), camera facts, orientation 6 (held sideways), and a 2400×1600 JPEG preview written
 * into it by exiftool. A `core@2` run must make the thumbnail and the preview from that embedded JPEG
 * (`exiftool <version> PreviewImage → sharp`, exactly that chain in `artifact --json`), turned upright by
 * the RAW's orientation, and the metadata step must read the DNG's own tags.
 */

const DECODER = /^exiftool \d+\.\d+ (PreviewImage|JpgFromRaw) → sharp \d+\.\d+\.\d+ \(libvips [\d.]+\)$/;

let root: string;
let archive: string;
let home: string;
let cleanup: () => void;
let before: ManifestEntry[];

async function makeDng(file: string): Promise<void> {
  await sharp({ create: { width: 96, height: 64, channels: 3, background: '#7f7f7f' } })
    .tiff()
    .toFile(file);
  // The preview as the sensor saw it (landscape, blue half on the left); orientation 6 stands it up.
  const preview = path.join(root, 'preview.jpg');
  const half = await sharp({ create: { width: 1200, height: 1600, channels: 3, background: '#0000ff' } })
    .png()
    .toBuffer();
  await sharp({ create: { width: 2400, height: 1600, channels: 3, background: '#ffff00' } })
    .composite([{ input: half, left: 0, top: 0 }])
    .jpeg({ quality: 85 })
    .toFile(preview);
  const writer = new ExifTool({ maxProcs: 1 });
  try {
    await writer.write(
      file,
      {
        DNGVersion: '1 4 0 0',
        DNGBackwardVersion: '1 1 0 0',
        UniqueCameraModel: 'Archivist TestCam DNG',
        Make: 'Archivist',
        Model: 'TestCam DNG',
        Orientation: 6,
        DateTimeOriginal: '2021:07:14 18:30:05',
        ISO: 200,
      },
      { writeArgs: ['-overwrite_original', '-n', `-PreviewImage<=${preview}`] },
    );
    const check = await writer.readRaw(file, ['-G1', '-n', '-FileType', '-DNGVersion', '-PreviewImage']);
    // The test's own precondition: exiftool sees a DNG with its version tag and an embedded preview.
    expect(check).toMatchObject({
      'File:FileType': 'DNG',
      'IFD0:DNGVersion': '1 4 0 0',
      'IFD0:PreviewImage': expect.stringMatching(/^\(Binary data \d+ bytes/) as unknown,
    });
  } finally {
    await writer.end();
    fs.rmSync(preview);
  }
}

describeEachDialect('a DNG through core@2: embedded preview → sharp, metadata from its tags', (dialect) => {
  beforeAll(async () => {
    ({ dir: root, cleanup } = tempDir('archivist-raw-dng-'));
    archive = path.join(root, 'archive');
    home = path.join(root, 'home');
    fs.mkdirSync(archive);
    await makeDng(path.join(archive, 'IMG_0001.DNG'));
    before = archiveManifest(archive);
    await catalogedHome(dialect, home, archive);
  }, 120_000);
  afterAll(() => cleanup());

  it('thumbnail and preview name `exiftool PreviewImage → sharp` in lineage, upright; metadata reads the DNG', async () => {
    const run = await runCliJson<RunJson>(
      ['run', 'start', 'core@2', '--collection', 'all', '--workers', '1'],
      {
        home,
      },
    );
    expect(run.status).toBe('completed');
    expect(run.counts.failed).toBe(0);

    const asset = await runCliJson<AssetJson>(['asset', path.join(archive, 'IMG_0001.DNG')], { home });
    expect(asset.mediaType).toBe('image');
    expect(asset.mime).toBe('image/x-adobe-dng');

    for (const [kind, edge] of [
      ['thumbnail', 256],
      ['preview', 1440],
    ] as const) {
      const made = asset.artifacts.find((a) => a.kind === kind && a.runId === run.id);
      expect(made, `a ${kind} artifact`).toBeDefined();
      const shown = await runCliJson<ArtifactJson>(['artifact', made!.id], { home });
      expect(shown.lineage.decoder).toMatch(DECODER);
      expect(shown.lineage.pipeline).toBe('core@2');
      // From the embedded 2400×1600 JPEG (the TIFF image is only 96×64), stood up by orientation 6.
      const picture = sharp(fs.readFileSync(shown.path));
      const { width, height } = await picture.metadata();
      expect([width, height]).toEqual([Math.round((edge * 2) / 3), edge]);
      const top = await picture.extract({ left: 0, top: 0, width: width, height: 4 }).raw().toBuffer();
      // The preview's left (blue) half is now on top.
      expect(top[2]! > 200 && top[0]! < 60).toBe(true);
    }

    const metadata = asset.metadata!;
    expect(metadata).toMatchObject({ make: 'Archivist', model: 'TestCam DNG', iso: 200, orientation: 6 });
    expect(metadata.takenAtLocal).toBe('2021-07-14T18:30:05');
    const raw = JSON.stringify(metadata.raw);
    expect(raw).toContain('DNGVersion');
    const meta = asset.artifacts.find((a) => a.kind === 'metadata' && a.runId === run.id)!;
    expect(meta.lineage.decoder).toMatch(/^exiftool \d+\.\d+$/);

    expect(archiveManifest(archive)).toEqual(before);
  }, 120_000);
});
