/**
 * The layout of a HEIF whose primary image is a grid of HEVC tiles (phones write 512×512 tiles), read
 * from the file's `meta` box (ISO/IEC 23008-12): where each tile's coded bytes are, the decoder
 * configuration, and the colour and rotation properties of the picture. A grid can then be decoded one
 * tile at a time (heif-tiles.ts), in the memory of a tile, where libheif 1.15 decodes it whole.
 */

export interface Extent {
  offset: number;
  length: number;
}

export interface HeifTile {
  /** Where the tile's coded bytes are in the file (length-prefixed HEVC NAL units). */
  extents: Extent[];
  /** The tile's `hvcC`: its parameter sets and the size of its NAL length prefixes. */
  hvcC: Buffer;
}

export interface HeifGrid {
  rows: number;
  columns: number;
  /** The picture's size: the tiles' canvas cut to it at the right and the bottom. */
  width: number;
  height: number;
  tileWidth: number;
  tileHeight: number;
  /** Row by row. */
  tiles: HeifTile[];
  /** The `nclx` colour property: how the tiles' YCbCr maps to RGB. */
  nclx: { matrix: number; fullRange: boolean } | null;
  /** The picture's ICC profile (phones: Display P3), to convert its RGB to sRGB as for every format. */
  icc: Buffer | null;
  /** EXIF-style orientation (1-8) the `irot`/`imir` properties of the picture amount to. */
  orientation: number;
  /** Properties this reader does not apply (a clean aperture): the caller must not decode it. */
  unsupported: string[];
}

/** Phones write 512×512 tiles; 4096×4096 is the most this path decodes as one (7 bytes a pixel: 112 MiB). */
const MAX_TILE_PIXELS = 4096 * 4096;

interface Box {
  type: string;
  /** Content, after the size, type and (for a full box) version/flags that `full` reads. */
  body: Buffer;
}

function* boxesOf(buffer: Buffer): Generator<Box> {
  let at = 0;
  while (at + 8 <= buffer.length) {
    let size = buffer.readUInt32BE(at);
    const type = buffer.toString('latin1', at + 4, at + 8);
    let header = 8;
    if (size === 1) {
      size = Number(buffer.readBigUInt64BE(at + 8));
      header = 16;
    } else if (size === 0) size = buffer.length - at;
    if (size < header || at + size > buffer.length) throw new Error(`HEIF box ${type} overruns its parent`);
    yield { type, body: buffer.subarray(at + header, at + size) };
    at += size;
  }
}

const full = (box: Box) => ({
  version: box.body[0]!,
  flags: box.body.readUIntBE(1, 3),
  body: box.body.subarray(4),
});

/** Reads an unsigned field of 0, 2, 4 or 8 bytes. */
function uint(buffer: Buffer, at: number, bytes: number): number {
  if (bytes === 0) return 0;
  if (bytes === 8) return Number(buffer.readBigUInt64BE(at));
  return buffer.readUIntBE(at, bytes);
}

interface Item {
  type: string;
  method: number;
  extents: Extent[];
  properties: number[];
}

function readItems(meta: Buffer): {
  primary: number;
  items: Map<number, Item>;
  dimg: Map<number, number[]>;
  idat: Buffer;
  properties: Box[];
} {
  const items = new Map<number, Item>();
  const item = (id: number) => {
    let found = items.get(id);
    if (!found) items.set(id, (found = { type: '', method: 0, extents: [], properties: [] }));
    return found;
  };
  const dimg = new Map<number, number[]>();
  let primary = -1;
  let idat: Buffer = Buffer.alloc(0);
  let properties: Box[] = [];
  for (const box of boxesOf(meta)) {
    switch (box.type) {
      case 'pitm': {
        const { version, body } = full(box);
        primary = version === 0 ? body.readUInt16BE(0) : body.readUInt32BE(0);
        break;
      }
      case 'iinf': {
        const { version, body } = full(box);
        for (const infe of boxesOf(body.subarray(version === 0 ? 2 : 4))) {
          if (infe.type !== 'infe') continue;
          const entry = full(infe);
          if (entry.version < 2) continue;
          const idBytes = entry.version === 2 ? 2 : 4;
          const id = uint(entry.body, 0, idBytes);
          item(id).type = entry.body.toString('latin1', idBytes + 2, idBytes + 6);
        }
        break;
      }
      case 'iref': {
        const { version, body } = full(box);
        const idBytes = version === 0 ? 2 : 4;
        for (const reference of boxesOf(body)) {
          if (reference.type !== 'dimg') continue;
          const from = uint(reference.body, 0, idBytes);
          const count = reference.body.readUInt16BE(idBytes);
          const to = Array.from({ length: count }, (_, i) =>
            uint(reference.body, idBytes + 2 + i * idBytes, idBytes),
          );
          dimg.set(from, to);
        }
        break;
      }
      case 'iloc':
        readLocations(full(box), item);
        break;
      case 'idat':
        idat = box.body;
        break;
      case 'iprp':
        properties = readProperties(box.body, item);
        break;
    }
  }
  return { primary, items, dimg, idat, properties };
}

function readLocations(iloc: ReturnType<typeof full>, item: (id: number) => Item): void {
  const { version, body } = iloc;
  const [offsetSize, lengthSize] = [body[0]! >> 4, body[0]! & 15];
  const [baseSize, indexSize] = [body[1]! >> 4, version >= 1 ? body[1]! & 15 : 0];
  let at = 2;
  const count = version < 2 ? body.readUInt16BE(at) : body.readUInt32BE(at);
  at += version < 2 ? 2 : 4;
  for (let i = 0; i < count; i++) {
    const id = version < 2 ? body.readUInt16BE(at) : body.readUInt32BE(at);
    at += version < 2 ? 2 : 4;
    const method = version >= 1 ? body.readUInt16BE(at) & 15 : 0;
    if (version >= 1) at += 2;
    at += 2; // data_reference_index: 0, this file
    const base = uint(body, at, baseSize);
    at += baseSize;
    const extentCount = body.readUInt16BE(at);
    at += 2;
    const entry = item(id);
    entry.method = method;
    for (let e = 0; e < extentCount; e++) {
      at += indexSize;
      const offset = uint(body, at, offsetSize);
      at += offsetSize;
      const length = uint(body, at, lengthSize);
      at += lengthSize;
      entry.extents.push({ offset: base + offset, length });
    }
  }
}

/** The `ipco` property boxes, and each item's associations (1-based indexes into them) from `ipma`. */
function readProperties(iprp: Buffer, item: (id: number) => Item): Box[] {
  let properties: Box[] = [];
  for (const box of boxesOf(iprp)) {
    if (box.type === 'ipco') properties = [...boxesOf(box.body)];
    if (box.type !== 'ipma') continue;
    const { version, flags, body } = full(box);
    let at = 4;
    const count = body.readUInt32BE(0);
    for (let i = 0; i < count; i++) {
      const id = version < 1 ? body.readUInt16BE(at) : body.readUInt32BE(at);
      at += version < 1 ? 2 : 4;
      const associations = body[at++]!;
      for (let a = 0; a < associations; a++) {
        const index = flags & 1 ? body.readUInt16BE(at) & 0x7fff : body[at]! & 0x7f;
        at += flags & 1 ? 2 : 1;
        item(id).properties.push(index);
      }
    }
  }
  return properties;
}

/** The product of two 2×2 matrices, row by row: `a` applied after `b`. */
const multiply = (a: readonly number[], b: readonly number[]) => [
  a[0]! * b[0]! + a[1]! * b[2]!,
  a[0]! * b[1]! + a[1]! * b[3]!,
  a[2]! * b[0]! + a[3]! * b[2]!,
  a[2]! * b[1]! + a[3]! * b[3]!,
];
/** EXIF orientations 1-8 as the 2×2 matrices of their transforms (y down; R is a quarter turn clockwise). */
const ORIENTATIONS: readonly (readonly number[])[] = (() => {
  const [I, F, V, R] = [
    [1, 0, 0, 1],
    [-1, 0, 0, 1],
    [1, 0, 0, -1],
    [0, -1, 1, 0],
  ];
  const R2 = multiply(R, R);
  const R3 = multiply(R2, R);
  // As sharp applies them (sharp-tool.ts `orient`): 5 and 7 mirror first, then turn.
  return [I, F, R2, V, multiply(R3, F), R, multiply(R, F), R3];
})();

function orientationOf(transforms: Box[]): number {
  let matrix: readonly number[] = ORIENTATIONS[0]!;
  // Applied in the order the picture lists them.
  for (const box of transforms) {
    if (box.type === 'irot') {
      // Quarter turns anticlockwise: one anticlockwise turn is three clockwise ones.
      const turns = (4 - (box.body[0]! & 3)) % 4;
      for (let t = 0; t < turns; t++) matrix = multiply(ORIENTATIONS[5]!, matrix);
    } else if (box.type === 'imir') {
      // Axis 0 is a vertical axis (left and right swap), 1 a horizontal one (ISO/IEC 23008-12, 6.5.12).
      matrix = multiply(box.body[0]! & 1 ? ORIENTATIONS[3]! : ORIENTATIONS[1]!, matrix);
    }
  }
  return ORIENTATIONS.findIndex((o) => o.every((v, i) => v === matrix[i])) + 1;
}

/**
 * The grid layout of a HEIF's primary image, from its `meta` box's content; null when the primary image
 * is not a grid of HEVC tiles (a single coded image, AV1 tiles, an overlay).
 */
export async function heifGridOf(
  meta: Buffer,
  readAt: (offset: number, length: number) => Promise<Buffer>,
): Promise<HeifGrid | null> {
  const { primary, items, dimg, idat, properties } = readItems(full({ type: 'meta', body: meta }).body);
  const grid = items.get(primary);
  const tileIds = dimg.get(primary);
  if (!grid || grid.type !== 'grid' || !tileIds || tileIds.length === 0) return null;
  // The grid's own 8-12 bytes: in the meta box's idat (Apple's files), or in the file like any item.
  const parts = await Promise.all(
    grid.extents.map((e) =>
      grid.method === 1
        ? Promise.resolve(idat.subarray(e.offset, e.offset + e.length))
        : readAt(e.offset, e.length),
    ),
  );
  const gridData = Buffer.concat(parts);
  if (gridData.length < 8 || grid.method > 1) return null;
  const fields = gridData[1]! & 1 ? 4 : 2;
  const [rows, columns] = [gridData[2]! + 1, gridData[3]! + 1];
  const width = uint(gridData, 4, fields);
  const height = uint(gridData, 4 + fields, fields);
  const propertiesOf = (id: number) =>
    (items.get(id)?.properties ?? []).map((i) => properties[i - 1]).filter((p) => p !== undefined);
  const tiles: HeifTile[] = [];
  let tileWidth = 0;
  let tileHeight = 0;
  for (const id of tileIds) {
    const tile = items.get(id);
    const hvcC = propertiesOf(id).find((p) => p.type === 'hvcC');
    const ispe = propertiesOf(id).find((p) => p.type === 'ispe');
    if (!tile || tile.type !== 'hvc1' || !hvcC || !ispe || tile.method !== 0) return null;
    const size = full(ispe).body;
    const [w, h] = [size.readUInt32BE(0), size.readUInt32BE(4)];
    // Tiles of one size (the standard's rule), and each small enough to decode on its own: a file that
    // says otherwise is not decoded this way.
    if (tiles.length > 0 && (w !== tileWidth || h !== tileHeight)) return null;
    if (w === 0 || h === 0 || w * h > MAX_TILE_PIXELS) return null;
    [tileWidth, tileHeight] = [w, h];
    tiles.push({ extents: tile.extents, hvcC: hvcC.body });
  }
  // The tiles cover the picture, with no whole row or column of them beyond it.
  const covers = (tile: number, count: number, edge: number) =>
    tile * count >= edge && tile * (count - 1) < edge;
  if (
    tiles.length !== rows * columns ||
    !covers(tileWidth, columns, width) ||
    !covers(tileHeight, rows, height)
  )
    return null;
  const own = propertiesOf(primary);
  const colour = (kinds: string[]) =>
    [...own, ...propertiesOf(tileIds[0]!)].find(
      (p) => p.type === 'colr' && kinds.includes(p.body.toString('latin1', 0, 4)),
    );
  const nclx = colour(['nclx']);
  const icc = colour(['prof', 'rICC']);
  return {
    ...{ rows, columns, width, height, tileWidth, tileHeight, tiles },
    nclx: nclx ? { matrix: nclx.body.readUInt16BE(8), fullRange: (nclx.body[10]! & 0x80) !== 0 } : null,
    icc: icc ? icc.body.subarray(4) : null,
    orientation: orientationOf(own.filter((p) => p.type === 'irot' || p.type === 'imir')),
    unsupported: own.filter((p) => p.type === 'clap').map((p) => p.type),
  };
}

/**
 * An HEVC elementary stream (Annex B) of one tile: its parameter sets, then its NAL units, each after a
 * start code instead of the length prefix HEIF stores (`coded` is the tile's bytes, its extents joined).
 * Null when the configuration or the NAL units overrun what holds them (a damaged file).
 */
export function annexBOf(tile: HeifTile, coded: Buffer): Buffer | null {
  try {
    return annexB(tile, coded);
  } catch (error) {
    if (error instanceof RangeError) return null;
    throw error;
  }
}

function annexB(tile: HeifTile, coded: Buffer): Buffer {
  const START = Buffer.from([0, 0, 0, 1]);
  const parts: Buffer[] = [];
  const { hvcC } = tile;
  const lengthSize = (hvcC[21]! & 3) + 1;
  let at = 23;
  for (let array = 0, arrays = hvcC[22]!; array < arrays; array++) {
    const count = hvcC.readUInt16BE(at + 1);
    at += 3;
    for (let n = 0; n < count; n++) {
      const length = hvcC.readUInt16BE(at);
      parts.push(START, hvcC.subarray(at + 2, at + 2 + length));
      at += 2 + length;
    }
  }
  for (let position = 0; position + lengthSize <= coded.length;) {
    const length = coded.readUIntBE(position, lengthSize);
    position += lengthSize;
    if (position + length > coded.length) throw new RangeError('a NAL unit overruns its tile');
    parts.push(START, coded.subarray(position, position + length));
    position += length;
  }
  return Buffer.concat(parts);
}
