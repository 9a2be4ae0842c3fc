import { describe, expect, it } from 'vitest';
import { bytesOfText } from '../../../src/catalog/file-names.js';
import { printable } from '../../../src/cli/printable.js';

/** Human output never carries a raw control character (issue 14, item 15). */
describe('printable', () => {
  it('escapes C0, DEL, C1 and bidi controls as the \\xHH of their bytes', () => {
    expect(printable('ctrl\x01\x1b[31mred\x07.jpg')).toBe('ctrl\\x01\\x1b[31mred\\x07.jpg');
    expect(printable('a\nb\tc\rd\x7f')).toBe('a\\x0ab\\x09c\\x0dd\\x7f');
    expect(printable('x\u0085y\u009bz')).toBe('x\\xc2\\x85y\\xc2\\x9bz');
    expect(printable('gpj.\u202eexe')).toBe('gpj.\\xe2\\x80\\xaeexe');
    expect(printable('l\u2028m\u2066n\u200f')).toBe('l\\xe2\\x80\\xa8m\\xe2\\x81\\xa6n\\xe2\\x80\\x8f');
  });

  it('leaves ordinary text alone, accents, scripts, emoji and the catalog escapes included', () => {
    for (const text of ['café 日本 👨‍👩‍👧 ½', 'old/caf\\xe9.jpg', 'C:\\photos', '']) {
      expect(printable(text)).toBe(text);
    }
  });

  it('keeps line breaks of a whole output when asked, and nothing else', () => {
    expect(printable('one\ntwo\x1b[2J\n', { keepNewlines: true })).toBe('one\ntwo\\x1b[2J\n');
    expect(printable('a\r\nb', { keepNewlines: true })).toBe('a\\x0d\nb');
  });

  it('prints the exact bytes of a name: decoding what is shown gives the name back', () => {
    for (const name of ['ctrl\x01\x1b[31mred\x07.jpg', 'new\nline.jpg', 'rtl\u202e.jpg']) {
      expect(bytesOfText(printable(name))).toEqual(Buffer.from(name));
    }
  });
});
