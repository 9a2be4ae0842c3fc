import fs from 'node:fs';
import zlib from 'node:zlib';
import type { OriginalFile } from '../../catalog/original-file.js';
import { topLevelBoxes, scratchNameFor } from './box-file-stand-in.js';
import { ffThreads, ffToolVersion, runFfTool } from './ffmpeg-run.js';
import { annexBOf, heifGridOf, type HeifGrid } from './heif-grid.js';
import { loadSharp } from './sharp-tool.js';
import { ToolError } from './tool.js';

/**
 * A HEIF grid picture decoded one tile at a time, for pictures whose whole decode by libheif 1.15 would
 * not fit a worker's memory (7 bytes a pixel: 430 MiB at 64 MP) and that carry no thumbnail item to use
 * instead. ffmpeg decodes the tiles, in order, as one HEVC stream written to the scratch folder, and
 * scales each one down by the same power of two as it goes; only the scaled canvas is ever whole.
 */

/** A `meta` box larger than this is not a picture's (Apple's are a few KB; 10,000 tiles are ~1 MB). */
const META_MAX_BYTES = 16 * 1024 * 1024;
let streams = 0;

export interface TiledPicture {
  raw: { data: Buffer; width: number; height: number; channels: 3 };
  /** The picture's own ICC profile, if it has one: its RGB is in that space, not in sRGB. */
  icc: Buffer | null;
  /** EXIF orientation the HEIF's own rotation and mirror amount to, for the renderer to apply. */
  orientation: number;
  /** The decoder chain, for lineage: `ffmpeg 5.1.9 HEVC tiles (8×6 of 512×512, 1/8)`. */
  label: string;
}

/** The grid layout of an original's primary image, or null when it is not a grid of HEVC tiles. */
export async function heifGridOfFile(original: OriginalFile): Promise<HeifGrid | null> {
  for await (const box of topLevelBoxes(original, 1000)) {
    if (box.type !== 'meta') continue;
    if (box.size > META_MAX_BYTES) return null;
    const meta = await original.readAt(box.position + box.headerLength, box.size - box.headerLength);
    return heifGridOf(meta, (offset, length) => original.readAt(offset, length));
  }
  return null;
}

/**
 * The largest power-of-two shrink (up to 1/32) that keeps the picture at least `size` on its long edge
 * and divides the tiles evenly, so scaled tiles still meet without a seam.
 */
export function shrinkFor(grid: HeifGrid, size: number): number {
  let shrink = 1;
  while (
    shrink < 32 &&
    Math.max(grid.width, grid.height) / (shrink * 2) >= size &&
    grid.tileWidth % (shrink * 2) === 0 &&
    grid.tileHeight % (shrink * 2) === 0
  ) {
    shrink *= 2;
  }
  return shrink;
}

/** ffmpeg's names for the nclx matrix coefficients (ISO/IEC 23091-2) its scaler knows. */
const MATRICES: Record<number, string> = {
  1: 'bt709',
  4: 'fcc',
  5: 'bt601',
  6: 'bt601',
  7: 'smpte240m',
  9: 'bt2020',
};

export async function decodeHeifTiles(
  original: OriginalFile,
  grid: HeifGrid,
  options: { size: number; signal: AbortSignal; scratchDir: string },
): Promise<TiledPicture> {
  const shrink = shrinkFor(grid, options.size);
  const [tileWidth, tileHeight] = [grid.tileWidth / shrink, grid.tileHeight / shrink];
  const stream = scratchNameFor(original, options.scratchDir, 'tiles', ++streams).replace(
    /\.[^./]*$/,
    '.hevc',
  );
  try {
    // The coded tiles, read through the descriptor, into a file of our own: ffmpeg never sees the original.
    const out = await fs.promises.open(stream, 'wx');
    try {
      for (const [index, tile] of grid.tiles.entries()) {
        // A damaged file (cut short, an offset out of range) is the file's failure, as any decoder's is.
        if (tile.extents.some((e) => e.offset + e.length > original.size)) {
          throw new ToolError(
            'ffmpeg',
            'failed',
            `HEIF grid: tile ${index + 1} lies past the end of the file (truncated?)`,
          );
        }
        const coded = await Promise.all(tile.extents.map((e) => original.readAt(e.offset, e.length)));
        const annexB = annexBOf(tile, Buffer.concat(coded));
        if (!annexB) throw new ToolError('ffmpeg', 'failed', `HEIF grid: tile ${index + 1} is damaged`);
        await out.write(annexB);
      }
    } finally {
      await out.close();
    }
    const colour = grid.nclx
      ? `:in_range=${grid.nclx.fullRange ? 'full' : 'limited'}` +
        (MATRICES[grid.nclx.matrix] ? `:in_color_matrix=${MATRICES[grid.nclx.matrix]}` : '')
      : '';
    const input = `file:${stream}`;
    const frameBytes = tileWidth * tileHeight * 3;
    const { stdout } = await runFfTool(
      'ffmpeg',
      [
        ...['-hide_banner', '-loglevel', 'error', '-threads', ffThreads(), '-f', 'hevc', '-i', input],
        ...['-vf', `scale=${tileWidth}:${tileHeight}:flags=area${colour},format=rgb24`],
        ...['-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'],
      ],
      { signal: options.signal, input, maxStdoutBytes: frameBytes * grid.tiles.length },
    );
    if (stdout.length !== frameBytes * grid.tiles.length) {
      throw new ToolError(
        'ffmpeg',
        'failed',
        `ffmpeg decoded ${Math.floor(stdout.length / frameBytes)} of the ${grid.tiles.length} tiles of the HEIF grid`,
      );
    }
    const raw = compose(grid, shrink, stdout);
    const ffmpeg = (await ffToolVersion('ffmpeg')) ?? '?';
    return {
      raw,
      icc: grid.icc,
      orientation: grid.orientation,
      label: `ffmpeg ${ffmpeg} HEVC tiles (${grid.columns}×${grid.rows} of ${grid.tileWidth}×${grid.tileHeight}, 1/${shrink})`,
    };
  } finally {
    await fs.promises.unlink(stream).catch(() => undefined);
  }
}

/** The scaled tiles (RGB, row by row) laid out on the picture's canvas, cut to the picture's size. */
function compose(grid: HeifGrid, shrink: number, tiles: Buffer): TiledPicture['raw'] {
  const [tileWidth, tileHeight] = [grid.tileWidth / shrink, grid.tileHeight / shrink];
  // Rounded, not rounded up: the nearest shape to the picture's, as libvips' own shrink-on-load keeps it.
  const width = Math.max(1, Math.round(grid.width / shrink));
  const height = Math.max(1, Math.round(grid.height / shrink));
  const data = Buffer.alloc(width * height * 3);
  for (let index = 0; index < grid.tiles.length; index++) {
    const [row, column] = [Math.floor(index / grid.columns), index % grid.columns];
    const [left, top] = [column * tileWidth, row * tileHeight];
    const columns = Math.min(tileWidth, width - left);
    if (columns <= 0) continue;
    for (let y = 0; y < tileHeight && top + y < height; y++) {
      const from = (index * tileHeight + y) * tileWidth * 3;
      tiles.copy(data, ((top + y) * width + left) * 3, from, from + columns * 3);
    }
  }
  return { data, width, height, channels: 3 };
}

/**
 * The picture as a PNG that carries its ICC profile (an iCCP chunk after the header), for sharp to
 * convert to sRGB from it as it does for every other format; sharp takes no profile with raw pixels.
 * Without zlib.crc32 (Node before 20.15) the profile is left out and the pixels are taken as sRGB.
 */
export async function pngWithProfile(picture: TiledPicture): Promise<Buffer | null> {
  if (!picture.icc || typeof zlib.crc32 !== 'function') return null;
  const { raw } = picture;
  const sharp = await loadSharp();
  // Uncompressed: it is read back at once, and deflating the pixels would cost more than the decode.
  const encoded = await sharp(raw.data, {
    raw: { width: raw.width, height: raw.height, channels: raw.channels },
  })
    .png({ compressionLevel: 0 })
    .toBuffer();
  const data = Buffer.concat([Buffer.from('ICC Profile\0\0', 'latin1'), zlib.deflateSync(picture.icc)]);
  const chunk = Buffer.alloc(12 + data.length);
  chunk.writeUInt32BE(data.length, 0);
  chunk.write('iCCP', 4, 'latin1');
  data.copy(chunk, 8);
  chunk.writeUInt32BE(zlib.crc32(chunk.subarray(4, 8 + data.length)), 8 + data.length);
  // The 8-byte signature, then IHDR (4 length + 4 type + 13 data + 4 CRC): the profile goes right after.
  const afterHeader = 8 + 25;
  return Buffer.concat([encoded.subarray(0, afterHeader), chunk, encoded.subarray(afterHeader)]);
}
