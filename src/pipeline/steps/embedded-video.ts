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

/** Walks top-level boxes from `start`; true when they end exactly at the end and one is `moov`. */
function boxesRunToEnd(data: Buffer, start: number): boolean {
  let offset = start;
  let sawMoov = false;
  while (offset < data.length) {
    if (offset + 8 > data.length) return false;
    let size = data.readUInt32BE(offset);
    const type = data.toString('latin1', offset + 4, offset + 8);
    if (!/^[\x20-\x7e]{4}$/.test(type)) return false;
    if (size === 1) {
      if (offset + 16 > data.length) return false;
      size = Number(data.readBigUInt64BE(offset + 8));
    } else if (size === 0) {
      size = data.length - offset;
    }
    if (size < 8) return false;
    if (type === 'moov') sawMoov = true;
    offset += size;
  }
  return offset === data.length && sawMoov;
}

export function findEmbeddedVideo(data: Buffer): EmbeddedVideo | null {
  let at = data.indexOf('ftyp', 5, 'latin1');
  while (at !== -1) {
    const start = at - 4;
    const size = data.readUInt32BE(start);
    const brand = data.toString('latin1', at + 4, at + 8);
    if (size >= 8 && size <= 512 && VIDEO_BRANDS.has(brand) && boxesRunToEnd(data, start)) {
      return { start, length: data.length - start, brand };
    }
    at = data.indexOf('ftyp', at + 4, 'latin1');
  }
  return null;
}
