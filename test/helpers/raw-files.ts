/**
 * Minimal camera RAW files for the format tests, written byte by byte: no real RAW of every maker can ship
 * with the repository (size, licences), and what Archivist reads of a RAW is its embedded JPEG preview and
 * its orientation, which these carry in the places exiftool looks for them.
 */

interface Entry {
  tag: number;
  type: 2 | 3 | 4 | 7; // ASCII, SHORT, LONG, UNDEFINED
  value: number | string;
}

/**
 * A little-endian TIFF (magic `II` + `magic`: 42 for TIFF, 0x55 for Panasonic RW2, 0x4f52 for Olympus
 * ORF) with one IFD: a tiny size, the camera's make, an orientation, and the JPEG as
 * JPEGInterchangeFormat/Length (what exiftool reports as the preview of these formats).
 */
export function tiffRaw(options: {
  make: string;
  orientation: number;
  jpeg: Buffer;
  magic?: number;
  /** Panasonic keeps its preview as the bytes of tag 0x2e (JpgFromRaw) instead. */
  jpegAsTag?: number;
}): Buffer {
  const make = Buffer.from(`${options.make}\0`, 'latin1');
  const unsorted: Entry[] = [
    { tag: 256, type: 4, value: 64 },
    { tag: 257, type: 4, value: 48 },
    { tag: 271, type: 2, value: options.make },
    { tag: 274, type: 3, value: options.orientation },
    ...(options.jpegAsTag
      ? [{ tag: options.jpegAsTag, type: 7 as const, value: options.jpeg.length }]
      : [
          { tag: 513, type: 4 as const, value: 0 }, // offset, filled in below
          { tag: 514, type: 4 as const, value: options.jpeg.length },
        ]),
  ];
  const entries = unsorted.sort((a, b) => a.tag - b.tag);
  const ifdOffset = 8;
  const ifdSize = 2 + entries.length * 12 + 4;
  const makeOffset = ifdOffset + ifdSize;
  const jpegOffset = makeOffset + make.length + (make.length % 2);
  const out = Buffer.alloc(jpegOffset + options.jpeg.length);
  out.write('II', 0, 'latin1');
  out.writeUInt16LE(options.magic ?? 42, 2);
  out.writeUInt32LE(ifdOffset, 4);
  out.writeUInt16LE(entries.length, ifdOffset);
  entries.forEach((entry, i) => {
    const at = ifdOffset + 2 + i * 12;
    out.writeUInt16LE(entry.tag, at);
    out.writeUInt16LE(entry.type, at + 2);
    if (entry.type === 2) {
      out.writeUInt32LE(make.length, at + 4);
      out.writeUInt32LE(makeOffset, at + 8);
    } else if (entry.type === 7) {
      out.writeUInt32LE(options.jpeg.length, at + 4);
      out.writeUInt32LE(jpegOffset, at + 8);
    } else {
      out.writeUInt32LE(1, at + 4);
      const value = entry.tag === 513 ? jpegOffset : Number(entry.value);
      if (entry.type === 3) out.writeUInt16LE(value, at + 8);
      else out.writeUInt32LE(value, at + 8);
    }
  });
  out.writeUInt32LE(0, ifdOffset + 2 + entries.length * 12); // no next IFD
  make.copy(out, makeOffset);
  options.jpeg.copy(out, jpegOffset);
  return out;
}

/**
 * A Fujifilm RAF: its 16-byte magic, version and camera name, then the offset and length of the embedded
 * JPEG (which is where RAF keeps its preview, with the orientation in the JPEG's own EXIF).
 */
export function fujiRaf(jpeg: Buffer): Buffer {
  const header = Buffer.alloc(160);
  header.write('FUJIFILMCCD-RAW ', 0, 'latin1');
  header.write('0201', 16, 'latin1');
  header.write('FF129502', 20, 'latin1');
  header.write('X-T3', 28, 'latin1');
  header.write('0100', 60, 'latin1');
  header.writeUInt32BE(header.length, 84); // JPEG offset
  header.writeUInt32BE(jpeg.length, 88); // JPEG length
  return Buffer.concat([header, jpeg]);
}

/** A Minolta MRW: its `\0MRM` header and one TTW block holding a TIFF (the camera's EXIF and preview). */
export function minoltaMrw(tiff: Buffer): Buffer {
  const block = Buffer.alloc(8);
  block.write('\0TTW', 0, 'latin1');
  block.writeUInt32BE(tiff.length, 4);
  const header = Buffer.alloc(8);
  header.write('\0MRM', 0, 'latin1');
  header.writeUInt32BE(block.length + tiff.length, 4);
  return Buffer.concat([header, block, tiff]);
}

/** A Canon CR3's opening (an ISO BMFF `ftyp` box of brand `crx `) with no preview in it. */
export function canonCr3WithoutPreview(): Buffer {
  const ftyp = Buffer.alloc(24);
  ftyp.writeUInt32BE(24, 0);
  ftyp.write('ftypcrx ', 4, 'latin1');
  ftyp.writeUInt32BE(1, 12);
  ftyp.write('crx isom', 16, 'latin1');
  const free = Buffer.alloc(16);
  free.writeUInt32BE(16, 0);
  free.write('free', 4, 'latin1');
  return Buffer.concat([ftyp, free]);
}

/** An ISO BMFF box: 32-bit size, type, payload. */
function box(type: string, ...payload: Buffer[]): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(8 + payload.reduce((n, b) => n + b.length, 0), 0);
  header.write(type, 4, 'latin1');
  return Buffer.concat([header, ...payload]);
}

const u32 = (n: number) => Buffer.from([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
const u16 = (n: number) => Buffer.from([(n >>> 8) & 255, n & 255]);

/**
 * A Canon CR3 with the parts exiftool reads (lclevy's "Canon CR3" description): `ftyp` of brand `crx `,
 * a `moov` holding Canon's uuid (85c0b687-…) with its compressor version (CNCV) and the camera's IFD0 as
 * a TIFF (CMT1: make, orientation), then the preview uuid (eaf42b5e-…) whose PRVW box holds the JPEG
 * (version 0 1, PRVW: 0, 1, width, height, 1, length, the JPEG), and an empty `mdat` where the sensor data
 * would be.
 */
export function canonCr3(options: {
  jpeg: Buffer;
  width: number;
  height: number;
  orientation: number;
}): Buffer {
  const ftyp = box('ftyp', Buffer.from('crx ', 'latin1'), u32(1), Buffer.from('crx isom', 'latin1'));
  const canon = Buffer.from('85c0b687820f11e08111f4ce462b6a48', 'hex');
  const ifd0 = tiffRaw({ make: 'Canon', orientation: options.orientation, jpeg: Buffer.alloc(0) });
  const moov = box(
    'moov',
    box(
      'uuid',
      canon,
      box('CNCV', Buffer.from('CanonCR3_001/00.09.00/00.00.00', 'latin1')),
      box('CMT1', ifd0),
    ),
  );
  const previewUuid = Buffer.from('eaf42b5e1c984b88b9fbb7dc406e4d16', 'hex');
  const prvw = box(
    'PRVW',
    u32(0),
    u16(1),
    u16(options.width),
    u16(options.height),
    u16(1),
    u32(options.jpeg.length),
    options.jpeg,
  );
  return Buffer.concat([
    ftyp,
    moov,
    box('uuid', previewUuid, u32(0), u32(1), prvw),
    box('mdat', Buffer.alloc(8)),
  ]);
}
