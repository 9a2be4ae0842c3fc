import { randomBytes } from 'node:crypto';

/** Lower-case letters and digits without look-alikes (no 0/o, 1/l/i): easy to read aloud and to type. */
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

/** A short id such as `r-k7m2x9qa`; prefixes are accepted wherever a run is named. */
export function newRunId(): string {
  const bytes = randomBytes(8);
  let id = '';
  for (const byte of bytes) id += ALPHABET[byte % ALPHABET.length];
  return `r-${id}`;
}

export function newArtifactId(): string {
  return `a-${randomBytes(10).toString('hex')}`;
}
