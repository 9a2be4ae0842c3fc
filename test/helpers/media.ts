import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';

/**
 * Small real media for tests, generated on the fly (never read from a shared corpus). The `seed` picks the
 * colour and size, so two calls with different seeds give different bytes and two with the same seed
 * give identical bytes.
 */
function canvas(seed: number) {
  return sharp({
    create: {
      width: 8 + (seed % 13),
      height: 6 + (seed % 7),
      channels: 3,
      background: { r: (seed * 37) % 256, g: (seed * 91) % 256, b: (seed * 151) % 256 },
    },
  });
}

export function makeJpeg(seed: number, options: { progressive?: boolean } = {}): Promise<Buffer> {
  return canvas(seed)
    .jpeg({ quality: 80, progressive: options.progressive ?? false })
    .toBuffer();
}

export function makePng(seed: number): Promise<Buffer> {
  return canvas(seed).png().toBuffer();
}

/** The first bytes of an MP4 (an `ftyp` box): enough for magic-byte sniffing to call it a video. */
export function mp4Header(): Buffer {
  return Buffer.concat([
    Buffer.from([0, 0, 0, 0x18]),
    Buffer.from('ftypisom', 'latin1'),
    Buffer.from([0, 0, 2, 0]),
    Buffer.from('isomiso2', 'latin1'),
    Buffer.alloc(64, 1),
  ]);
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Writes `data` at `root/rel`, creating folders; returns the absolute path. */
export function put(root: string, rel: string, data: Buffer | string): string {
  const abs = path.join(root, ...rel.split('/'));
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, data);
  return abs;
}
