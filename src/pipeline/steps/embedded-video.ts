/**
 * Finds the MP4 a motion photo carries after its picture (Google's MicroVideo and Motion Photo, Samsung's
 * `MotionPhoto_Data` trailer): the first `ftyp` box past the start whose top-level boxes run exactly to
 * the end of the file and include `moov`. Checking the whole box chain (not just a magic string) keeps a
 * stray `ftyp` in a maker note from being taken for a video.
 */

const VIDEO_BRANDS = new Set([
  'isom',
  'iso2',
  'iso4',
  'iso5',
  'iso6',
  'mp41',
  'mp42',
  'avc1',
  'qt  ',
  'M4V ',
  'hvc1',
  'MSNV',
  '3gp4',
  '3gp5',
]);

export interface EmbeddedVideo {
  start: number;
  length: number;
  brand: string;
}

/** Reads up to `length` bytes at `position` (fewer at the end of the file). */
export type ReadAt = (position: number, length: number) => Promise<Buffer>;

/** A buffer read as a file: what the unit tests and small pictures use. */
export function bufferReader(data: Buffer): ReadAt {
  return (position, length) => Promise.resolve(data.subarray(position, position + length));
}

/** Walks top-level boxes from `start`; true when they end exactly at `size` and one is `moov`. */
async function boxesRunToEnd(readAt: ReadAt, size: number, start: number): Promise<boolean> {
  let offset = start;
  let sawMoov = false;
  while (offset < size) {
    if (offset + 8 > size) return false;
    const header = await readAt(offset, 16);
    let box = header.readUInt32BE(0);
    const type = header.toString('latin1', 4, 8);
    if (!/^[\x20-\x7e]{4}$/.test(type)) return false;
    if (box === 1) {
      if (offset + 16 > size) return false;
      box = Number(header.readBigUInt64BE(8));
    } else if (box === 0) {
      box = size - offset;
    }
    if (box < 8) return false;
    if (type === 'moov') sawMoov = true;
    offset += box;
  }
  return offset === size && sawMoov;
}

/** How much of the picture is searched at a time: the memory a search holds, whatever the file's size. */
const WINDOW = 1024 * 1024;

/**
 * Searches a file of `size` bytes window by window (each window starts 4 bytes early and reads 12 past
 * its end, so a box header across a boundary is seen whole, and each `ftyp` is looked at once).
 */
export async function findEmbeddedVideoIn(readAt: ReadAt, size: number): Promise<EmbeddedVideo | null> {
  for (let from = 0; from < size; from += WINDOW) {
    const base = Math.max(0, from - 4);
    const window = await readAt(base, from - base + WINDOW + 12);
    let i = window.indexOf('ftyp', Math.max(from - base, 5 - base), 'latin1');
    while (i !== -1 && base + i < from + WINDOW) {
      const start = base + i - 4;
      const box = window.readUInt32BE(i - 4);
      const brand = window.toString('latin1', i + 4, i + 8);
      if (box >= 8 && box <= 512 && VIDEO_BRANDS.has(brand) && (await boxesRunToEnd(readAt, size, start)))
        return { start, length: size - start, brand };
      i = window.indexOf('ftyp', i + 4, 'latin1');
    }
  }
  return null;
}

/** The same search in a buffer held in memory. */
export function findEmbeddedVideo(data: Buffer): Promise<EmbeddedVideo | null> {
  return findEmbeddedVideoIn(bufferReader(data), data.length);
}
