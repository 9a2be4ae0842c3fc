import fs from 'node:fs';
import path from 'node:path';
import type { OriginalFile } from '../../catalog/original-file.js';

/** What a stand-in may copy of an original's boxes other than its media data (a long video's index: MBs). */
const COPY_BUDGET_BYTES = 64 * 1024 * 1024;
let standIns = 0;

/**
 * Runs `read` on a stand-in for a large file made of ISO boxes (an MP4 or MOV whose index follows its
 * media data, a HEIF), or answers null when the file does not look like one. A tool that must seek past
 * the media data to reach the index (exiftool), or that opens its input by a name (heif-info), would
 * otherwise keep every byte it skipped in memory (a pipe, exiftool's stdin) or open the original anew,
 * without O_NOATIME (the kernel would record the read as an access). The stand-in is a sparse file in
 * the worker's scratch folder of the original's size, with every top-level box copied through the
 * descriptor at its own offset except the payload of `mdat`, which stays a hole: a tool that reads only
 * the boxes (exiftool without -ee, heif-info's box dump) answers as it would for the original. Removed
 * afterwards.
 */
export async function withBoxFileStandIn<T>(
  original: OriginalFile,
  scratchDir: string,
  read: (file: string) => Promise<T>,
): Promise<T | null> {
  const pieces = await boxesToCopy(original);
  if (!pieces) return null;
  const file = scratchNameFor(original, scratchDir, 'stand-in', ++standIns);
  // `wx`: a file of our own, made new in our scratch folder; mode 600, only this user may read it.
  const handle = await fs.promises.open(file, 'wx', 0o600);
  try {
    for (const piece of pieces) {
      const bytes = await original.readAt(piece.position, piece.length);
      await handle.write(bytes, 0, bytes.length, piece.position);
    }
    await handle.truncate(original.size); // the media data: a hole, no blocks written
    await handle.close();
    return await read(file);
  } finally {
    await handle.close().catch(() => undefined);
    await fs.promises.unlink(file).catch(() => undefined);
  }
}

/** One top-level ISO box (MP4, MOV, HEIF, CR3): where it starts, its whole size and its header's. */
export interface TopLevelBox {
  type: string;
  position: number;
  size: number;
  headerLength: number;
}

/**
 * The top-level boxes of an original, read through its descriptor (a few positional reads of headers),
 * up to `limit`; stops at the first that is not a well-formed box (the caller sees `complete` false).
 */
export async function* topLevelBoxes(
  original: OriginalFile,
  limit: number,
): AsyncGenerator<TopLevelBox, boolean> {
  for (let position = 0, boxes = 0; position < original.size; boxes++) {
    if (boxes >= limit || position + 8 > original.size) return false;
    const header = await original.readAt(position, 16);
    const size32 = header.readUInt32BE(0);
    const headerLength = size32 === 1 ? 16 : 8;
    if (header.length < headerLength) return false;
    // 1: a 64-bit size follows the type; 0: the box runs to the end of the file.
    const size =
      size32 === 1 ? Number(header.readBigUInt64BE(8)) : size32 === 0 ? original.size - position : size32;
    if (size < headerLength || position + size > original.size) return false;
    const type = header.toString('latin1', 4, 8);
    if (!/^[\x20-\x7e]{4}$/.test(type)) return false;
    yield { type, position, size, headerLength };
    position += size;
  }
  return true;
}

/** The byte ranges of every top-level box but `mdat`'s payload; null if it is not a box file within budget. */
async function boxesToCopy(original: OriginalFile): Promise<{ position: number; length: number }[] | null> {
  const pieces: { position: number; length: number }[] = [];
  let copied = 0;
  const boxes = topLevelBoxes(original, 10_000);
  for (;;) {
    const next = await boxes.next();
    if (next.done) return next.value ? pieces : null;
    const { type, position, size, headerLength } = next.value;
    const length = type === 'mdat' ? headerLength : size;
    copied += length;
    if (copied > COPY_BUDGET_BYTES) return null;
    pieces.push({ position, length });
  }
}

/**
 * A new name in the scratch folder for a file standing for `original` (a pipe, a stand-in): `kind`, this
 * process and a counter, and the original's extension, which tools go by (exiftool tells NEF, DNG and
 * ARW from TIFF by it), kept to letters and digits.
 */
export function scratchNameFor(original: OriginalFile, scratchDir: string, kind: string, n: number): string {
  const extension = path
    .extname(original.path)
    .slice(1)
    .replace(/[^A-Za-z0-9]/g, '')
    .slice(0, 10);
  return path.join(scratchDir, `${kind}-${process.pid}-${n}${extension ? `.${extension}` : ''}`);
}
