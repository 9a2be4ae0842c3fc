/** `values` in consecutive slices of at most `size`: one statement each, within the databases' bounds. */
export function chunksOf<T>(values: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < values.length; i += size) out.push(values.slice(i, i + size));
  return out;
}
