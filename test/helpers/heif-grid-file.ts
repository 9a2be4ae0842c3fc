/**
 * HEIF grid pictures for the tiled-decode tests, made from a real phone HEIC's own coded tiles: a grid of
 * any size in the bytes of the source's tiles (each tile item of the new grid points at one of them), so
 * a 64-megapixel picture is a 2 MB file. Written box by box (ISO/IEC 23008-12) since no tool here writes
 * a grid.
 */
import fs from 'node:fs';
import { heifGridOf, type HeifGrid } from '../../src/pipeline/tools/heif-grid.js';

function box(type: string, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(8 + body.length, 0);
  header.write(type, 4, 'latin1');
  return Buffer.concat([header, body]);
}
const fullBox = (type: string, version: number, ...parts: Buffer[]) =>
  box(type, Buffer.from([version, 0, 0, 0]), ...parts);
/** A full box with flags (the `infe` of a tile is flagged hidden: not a picture of its own). */
const flaggedBox = (type: string, version: number, flags: number, ...parts: Buffer[]) =>
  box(type, Buffer.from([version, 0, 0, flags]), ...parts);
const u16 = (n: number) => Buffer.from([n >> 8, n & 255]);
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

export function metaOf(file: Buffer): Buffer {
  for (let at = 0; at < file.length;) {
    const size = file.readUInt32BE(at);
    if (file.toString('latin1', at + 4, at + 8) === 'meta') return file.subarray(at + 8, at + size);
    at += size;
  }
  throw new Error('no meta box');
}

export async function gridOfFile(path: string): Promise<HeifGrid> {
  const file = fs.readFileSync(path);
  const grid = await heifGridOf(metaOf(file), (offset, length) =>
    Promise.resolve(file.subarray(offset, offset + length)),
  );
  if (!grid) throw new Error(`${path}: not a HEIF grid`);
  return grid;
}

/**
 * A HEIF whose primary image is a `columns`×`rows` grid of `source`'s tiles, taken in order and over again;
 * `irot` quarter turns anticlockwise, as the source's own rotation is not carried over.
 */
export async function writeGridHeif(
  source: string,
  target: string,
  layout: {
    columns: number;
    rows: number;
    width?: number;
    height?: number;
    irot?: number;
    /** The size the grid's `ispe` declares, if not its real one (a hostile file). */
    declared?: { width: number; height: number };
  },
): Promise<void> {
  const file = fs.readFileSync(source);
  const grid = await gridOfFile(source);
  const coded = grid.tiles.map((t) =>
    Buffer.concat(t.extents.map((e) => file.subarray(e.offset, e.offset + e.length))),
  );
  const count = layout.columns * layout.rows;
  const width = layout.width ?? layout.columns * grid.tileWidth;
  const height = layout.height ?? layout.rows * grid.tileHeight;
  const gridId = count + 1;
  const tileIds = Array.from({ length: count }, (_, i) => i + 1);
  const infe = (id: number, type: string) =>
    flaggedBox(
      'infe',
      2,
      type === 'hvc1' ? 1 : 0,
      u16(id),
      u16(0),
      Buffer.from(type, 'latin1'),
      Buffer.from([0]),
    );
  const gridData = Buffer.concat([
    Buffer.from([0, 1, layout.rows - 1, layout.columns - 1]),
    u32(width),
    u32(height),
  ]);
  // Properties: 1 hvcC, 2 tile ispe, 3 grid ispe, 4 irot.
  const ispe = (w: number, h: number) => fullBox('ispe', 0, u32(w), u32(h));
  const ipco = box(
    'ipco',
    box('hvcC', grid.tiles[0]!.hvcC),
    ispe(grid.tileWidth, grid.tileHeight),
    ispe(layout.declared?.width ?? width, layout.declared?.height ?? height),
    box('irot', Buffer.from([(layout.irot ?? 0) & 3])),
  );
  const association = (id: number, indexes: number[]) =>
    Buffer.concat([u16(id), Buffer.from([indexes.length, ...indexes.map((i) => 0x80 | i)])]);
  const ipma = fullBox(
    'ipma',
    0,
    u32(count + 1),
    ...tileIds.map((id) => association(id, [1, 2])),
    association(gridId, layout.irot ? [3, 4] : [3]),
  );
  const iref = fullBox('iref', 0, box('dimg', u16(gridId), u16(count), ...tileIds.map(u16)));
  const hdlr = fullBox('hdlr', 0, u32(0), Buffer.from('pict', 'latin1'), Buffer.alloc(12), Buffer.from([0]));
  const iinf = fullBox(
    'iinf',
    0,
    u16(count + 1),
    ...tileIds.map((id) => infe(id, 'hvc1')),
    infe(gridId, 'grid'),
  );
  const ftyp = box('ftyp', Buffer.from('heic', 'latin1'), u32(0), Buffer.from('mif1heic', 'latin1'));
  // iloc version 1: 4-byte offsets and lengths, no base offset; the grid's data in idat (method 1).
  const ilocOf = (mdatStart: number) => {
    const offsets: number[] = [];
    let at = mdatStart;
    for (const tile of coded) {
      offsets.push(at);
      at += tile.length;
    }
    const entry = (id: number, method: number, offset: number, length: number) =>
      Buffer.concat([u16(id), u16(method), u16(0), u16(1), u32(offset), u32(length)]);
    return fullBox(
      'iloc',
      1,
      Buffer.from([0x44, 0x00]),
      u16(count + 1),
      ...tileIds.map((id, i) => entry(id, 0, offsets[i % coded.length]!, coded[i % coded.length]!.length)),
      entry(gridId, 1, 0, gridData.length),
    );
  };
  const metaWith = (iloc: Buffer) =>
    fullBox(
      'meta',
      0,
      hdlr,
      fullBox('pitm', 0, u16(gridId)),
      iinf,
      iref,
      box('iprp', ipco, ipma),
      iloc,
      box('idat', gridData),
    );
  // The iloc's size does not depend on the offsets in it: measure once, then write the real offsets.
  const before = ftyp.length + metaWith(ilocOf(0)).length + 8;
  const meta = metaWith(ilocOf(before));
  fs.writeFileSync(target, Buffer.concat([ftyp, meta, box('mdat', ...coded)]));
}
