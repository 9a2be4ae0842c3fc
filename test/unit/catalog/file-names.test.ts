import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bytesOfText, childPath, sourceFilePath, textOfBytes } from '../../../src/catalog/file-names.js';

/** The lossless text form of file names (issue 14, item 13): exact bytes in, exact bytes out. */
const latin1 = (text: string) => Buffer.from(text, 'latin1');

describe('file names as text', () => {
  it('keeps a UTF-8 name as it is, so names cataloged before stay the same', () => {
    for (const name of [
      'IMG_0001.JPG',
      'café.jpg',
      '写真 2019/日本.heic',
      'a\\b.jpg',
      '\\x4.jpg',
      '🎉.png',
    ]) {
      expect(textOfBytes(Buffer.from(name))).toBe(name);
      expect(bytesOfText(name)).toEqual(Buffer.from(name));
    }
  });

  it('writes a byte that is not UTF-8 as \\xHH and gets the same bytes back', () => {
    const bytes = latin1('caf\xe9.jpg');
    expect(textOfBytes(bytes)).toBe('caf\\xe9.jpg');
    expect(bytesOfText('caf\\xe9.jpg')).toEqual(bytes);
    // A lone continuation byte, a truncated sequence, an overlong `/`, a surrogate, past U+10FFFF.
    const odd = Buffer.from([
      0x80, 0x61, 0xe2, 0x82, 0x2f, 0xc0, 0xaf, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80,
    ]);
    expect(textOfBytes(odd)).toBe('\\x80a\\xe2\\x82/\\xc0\\xaf\\xed\\xa0\\x80\\xf4\\x90\\x80\\x80');
    expect(bytesOfText(textOfBytes(odd))).toEqual(odd);
    // Valid sequences next to invalid bytes stay readable.
    const mixed = Buffer.concat([Buffer.from('é'), Buffer.from([0xff]), Buffer.from('日')]);
    expect(textOfBytes(mixed)).toBe('é\\xff日');
  });

  it('escapes a literal backslash that would read as an escape, so two names never share a text', () => {
    const literal = Buffer.from('caf\\xe9.jpg'); // a UTF-8 name that really contains `\xe9`
    const escaped = latin1('caf\xe9.jpg');
    expect(textOfBytes(literal)).toBe('caf\\x5cxe9.jpg');
    expect(textOfBytes(literal)).not.toBe(textOfBytes(escaped));
    expect(bytesOfText(textOfBytes(literal))).toEqual(literal);
    // Uppercase hex is not an escape: nothing to protect.
    expect(textOfBytes(Buffer.from('a\\xE9'))).toBe('a\\xE9');
    // A backslash before an escaped byte.
    const both = Buffer.concat([Buffer.from('\\'), Buffer.from([0xe9])]);
    expect(textOfBytes(both)).toBe('\\\\xe9');
    expect(bytesOfText('\\\\xe9')).toEqual(both);
  });

  it('round-trips random byte strings exactly, and distinct bytes give distinct texts', () => {
    const texts = new Map<string, string>();
    for (let i = 0; i < 3000; i++) {
      // Biased towards the interesting bytes: backslash, x, hex digits and high bytes.
      const alphabet = [0x5c, 0x78, 0x61, 0x66, 0x30, 0x39, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xff, 0x80, 0x2f];
      const raw = randomBytes(1 + (i % 12));
      const bytes = Buffer.from(raw.map((b) => (b % 3 === 0 ? b : alphabet[b % alphabet.length]!)));
      const text = textOfBytes(bytes);
      expect(bytesOfText(text)).toEqual(bytes);
      const hex = bytes.toString('hex');
      const other = texts.get(text);
      if (other !== undefined) expect(other).toBe(hex);
      texts.set(text, hex);
    }
  });

  it('gives fs the exact bytes of a path with escapes, and a plain string otherwise', () => {
    expect(sourceFilePath('/archive', '2019/a.jpg')).toBe('/archive/2019/a.jpg');
    const file = sourceFilePath('/archive', 'old/caf\\xe9.jpg');
    expect(Buffer.isBuffer(file)).toBe(true);
    expect(file).toEqual(latin1('/archive/old/caf\xe9.jpg'));
    // An escaped backslash alone is UTF-8 again: a string.
    expect(sourceFilePath('/archive', 'a\\x5cx41.jpg')).toBe('/archive/a\\x41.jpg');
    expect(childPath('/archive', latin1('\xe9'))).toEqual(latin1('/archive/\xe9'));
    expect(childPath(latin1('/a\xe9'), Buffer.from('b'))).toEqual(latin1('/a\xe9/b'));
  });
});
