/**
 * Names that are never part of a person's archive: OS and NAS bookkeeping. Skipped while walking,
 * never hashed, never reported as assets.
 */
const JUNK_NAMES = new Set(
  [
    '.DS_Store',
    'Thumbs.db',
    'ehthumbs.db',
    'desktop.ini',
    '@eaDir', // Synology thumbnails
    '.@__thumb', // QNAP thumbnails
    '.Trashes',
    '.Trash',
    '.Spotlight-V100',
    '.fseventsd',
    '.TemporaryItems',
    '#recycle', // Synology recycle bin
    '#snapshot',
    '@Recycle',
    '$RECYCLE.BIN',
    'System Volume Information',
    '.stversions', // Syncthing
    '.stfolder',
    '.thumbnails',
  ].map((name) => name.toLowerCase()),
);

export function makeJunkFilter(extra: readonly string[] = []): (name: string) => boolean {
  const extraNames = new Set(extra.map((name) => name.toLowerCase()));
  return (name) => {
    // AppleDouble resource forks copied onto non-Mac filesystems.
    if (name.startsWith('._')) return true;
    const lower = name.toLowerCase();
    return JUNK_NAMES.has(lower) || extraNames.has(lower);
  };
}
