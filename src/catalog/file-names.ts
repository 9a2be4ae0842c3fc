import { isUtf8 } from 'node:buffer';
import path from 'node:path';

/**
 * File names are bytes. Linux allows any byte but `/` and NUL, and old NAS shares are full of names in
 * Latin-1 or CP437 (`caf\xe9.jpg`) that are not UTF-8. Node decodes such a name lossily (U+FFFD), after
 * which nothing can open it again, so Archivist lists directories as bytes and keeps each name as a
 * lossless text form:
 *
 * - a name that is valid UTF-8 is kept as it is (every name cataloged before this existed stays the same);
 * - a byte that is not part of valid UTF-8 is written `\xHH` (two lowercase hex digits);
 * - a literal backslash that would read as such an escape (`\x41` typed in a name) is itself written
 *   `\x5c`, so the form is unambiguous and `bytesOfText(textOfBytes(b))` is `b` for every name.
 *
 * This text is what the database stores in `locations.path`, what JSON carries and what a person sees
 * (the CLI further escapes control characters, see src/cli/printable.ts). Whenever a path goes back to
 * the filesystem it is turned into bytes again by `sourceFilePath`.
 */
const ESCAPE = /\\x[0-9a-f]{2}/;
const ESCAPES = /\\x([0-9a-f]{2})/g;

const isLowerHex = (byte: number | undefined) =>
  byte !== undefined && ((byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66));

/** The lossless text form of a name (or of a `/`-separated path: `/` is never escaped). */
export function textOfBytes(bytes: Buffer): string {
  if (isUtf8(bytes)) {
    const text = bytes.toString('utf8');
    if (!ESCAPE.test(text)) return text;
  }
  let out = '';
  let start = 0; // start of the pending run of bytes that is copied as UTF-8
  const flush = (end: number) => {
    if (end > start) out += bytes.toString('utf8', start, end);
  };
  for (let i = 0; i < bytes.length;) {
    const byte = bytes[i]!;
    if (byte === 0x5c && bytes[i + 1] === 0x78 && isLowerHex(bytes[i + 2]) && isLowerHex(bytes[i + 3])) {
      flush(i);
      out += '\\x5c';
      start = ++i;
      continue;
    }
    const length = byte < 0x80 ? 1 : utf8SequenceLength(bytes, i);
    if (length > 0) {
      i += length;
      continue;
    }
    flush(i);
    out += `\\x${byte.toString(16).padStart(2, '0')}`;
    start = ++i;
  }
  flush(bytes.length);
  return out;
}

/** The exact bytes a text form stands for. */
export function bytesOfText(text: string): Buffer {
  if (!ESCAPE.test(text)) return Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  let last = 0;
  for (const match of text.matchAll(ESCAPES)) {
    parts.push(Buffer.from(text.slice(last, match.index), 'utf8'), Buffer.of(Number.parseInt(match[1]!, 16)));
    last = match.index + match[0].length;
  }
  parts.push(Buffer.from(text.slice(last), 'utf8'));
  return Buffer.concat(parts);
}

/**
 * What fs calls get for a location: the source root joined with the cataloged relative path, as a string
 * when the name is UTF-8 (nearly always) and as the exact bytes when it is not.
 */
export function sourceFilePath(root: string, rel: string): string | Buffer {
  if (!ESCAPE.test(rel)) return path.join(root, rel);
  return childPath(root, bytesOfText(rel));
}

/** A directory (as fs was given it) joined with an entry name read as bytes. */
export function childPath(dir: string | Buffer, name: Buffer): string | Buffer {
  if (typeof dir === 'string' && isUtf8(name)) return path.join(dir, name.toString('utf8'));
  const base = typeof dir === 'string' ? Buffer.from(dir, 'utf8') : dir;
  const separator = base.at(-1) === 0x2f ? [] : [Buffer.of(0x2f)];
  return Buffer.concat([base, ...separator, name]);
}

/** A path given to fs (string or bytes) as text for messages, lossless. */
export function pathText(file: string | Buffer): string {
  return typeof file === 'string' ? file : textOfBytes(file);
}

/**
 * An fs error's message with the path as its text form: Node writes a path given as bytes decoded
 * lossily (`caf\ufffd.jpg`), which names no file.
 */
export function fsErrorMessage(error: unknown, file: string | Buffer): string {
  const message = error instanceof Error ? error.message : String(error);
  if (typeof file === 'string') return message;
  return message.split(file.toString('utf8')).join(textOfBytes(file));
}

/**
 * Length of the well-formed UTF-8 sequence starting at `i` (Unicode 15, table 3-7), or 0 when the bytes
 * there are not one: overlong forms, surrogates and code points past U+10FFFF are not UTF-8 either.
 */
function utf8SequenceLength(bytes: Buffer, i: number): number {
  const b0 = bytes[i]!;
  const cont = (k: number, low = 0x80, high = 0xbf) => {
    const b = bytes[i + k];
    return b !== undefined && b >= low && b <= high;
  };
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
  if (b0 === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((b0 >= 0xe1 && b0 <= 0xec) || b0 === 0xee || b0 === 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (b0 === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (b0 === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (b0 >= 0xf1 && b0 <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (b0 === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}
