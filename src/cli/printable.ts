/**
 * Text from outside Archivist (file names, tool messages, EXIF strings, source names) made safe to print
 * to a terminal. A file named `ctrl\x01\x1b[31mred\x07.jpg` must not beep, recolour the terminal or, with
 * other sequences, rewrite what is on screen; a name holding a newline must not pass for two lines; bidi
 * controls must not reorder what a person reads. Each such character is written as the `\xHH` escapes of
 * its UTF-8 bytes: the notation the catalog already uses for bytes that are not UTF-8 (file-names.ts), so
 * what is printed still names the exact file (`archivist asset 'photos/caf\xe9.jpg'` finds it).
 *
 * Human output only: --json prints the exact strings (JSON escapes control characters itself).
 */
const UNSAFE = /[\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/gu;
/** The same without the line feed: for whole blocks of output whose lines are our own. */
const UNSAFE_BUT_NEWLINE = /[^\P{Cc}\n]|[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/gu;

const escapeChar = (char: string) =>
  [...Buffer.from(char, 'utf8')].map((byte) => `\\x${byte.toString(16).padStart(2, '0')}`).join('');

/**
 * `printable(name)` for one value put into a line; `printable(block, { keepNewlines: true })` for a whole
 * output whose line breaks are meant (what `emit` and the error report print goes through this last).
 */
export function printable(text: string, options: { keepNewlines?: boolean } = {}): string {
  return text.replace(options.keepNewlines ? UNSAFE_BUT_NEWLINE : UNSAFE, escapeChar);
}
