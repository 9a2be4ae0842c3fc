import type { PathCursor, TimeCursor } from '../store/listing-repository.js';
import { badField } from './http-errors.js';

/**
 * The cursor of a listing page: where the next page continues, as the keyset it names (base64url JSON).
 * It names a position, not an offset, so pages stay right while the catalog grows under them.
 */
type Cursor = { sort: 'time'; ms: number; id: string } | { sort: 'path'; source: string; path: string };

export function timeCursor(at: TimeCursor): string {
  return encode({ sort: 'time', ms: at.ms, id: at.id });
}

export function pathCursor(at: PathCursor): string {
  return encode({ sort: 'path', source: at.source, path: at.path });
}

function encode(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url');
}

const NOT_OURS = 'not a cursor this server gave out for this order';

function decode(text: string): Cursor {
  try {
    const value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Partial<
      Record<string, unknown>
    >;
    if (value.sort === 'time' && typeof value.ms === 'number' && typeof value.id === 'string')
      return { sort: 'time', ms: value.ms, id: value.id };
    if (value.sort === 'path' && typeof value.source === 'string' && typeof value.path === 'string')
      return { sort: 'path', source: value.source, path: value.path };
  } catch {
    // falls through to the error below
  }
  throw badField('cursor', NOT_OURS);
}

export function decodeTimeCursor(text: string): TimeCursor {
  const cursor = decode(text);
  if (cursor.sort !== 'time') throw badField('cursor', NOT_OURS);
  return { ms: cursor.ms, id: cursor.id };
}

export function decodePathCursor(text: string): PathCursor {
  const cursor = decode(text);
  if (cursor.sort !== 'path') throw badField('cursor', NOT_OURS);
  return { source: cursor.source, path: cursor.path };
}
