/**
 * The literal start of a path glob as a range of lowered paths (issue 17): `2019/*` can only match paths
 * from `2019/` (included) to `20190` (excluded), so both databases read that range of
 * locations_path_asset (migration 0019) instead of testing every location. The glob itself is still
 * tested on each path in the range: the range only narrows what is read.
 */
export function globPrefixRange(loweredGlob: string): { from: string; to: string } | null {
  const wildcard = loweredGlob.search(/[*?[]/);
  let prefix = wildcard === -1 ? loweredGlob : loweredGlob.slice(0, wildcard);
  // The first string after every string that starts with the prefix: its last character plus one. A
  // surrogate or the last code point of the plane has no such neighbour: a shorter prefix still bounds.
  while (prefix.length > 0) {
    const last = prefix.charCodeAt(prefix.length - 1);
    if (last < 0xd800 || (last > 0xdfff && last < 0xffff))
      return { from: prefix, to: prefix.slice(0, -1) + String.fromCharCode(last + 1) };
    prefix = prefix.slice(0, -1);
  }
  return null;
}
