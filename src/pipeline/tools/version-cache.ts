import fs from 'node:fs';

/**
 * Tool versions remembered in the home's `tool-versions.json`, per set of files that make the answer.
 *
 * Asking a version costs a process start: `ffmpeg -version` a tenth of a second, `vipsthumbnail
 * --vips-version` 0.1-0.2 s (it loads every libvips module), in the command that starts a run and again
 * in each of its workers, before their first item. Each answer is remembered under the path, size, mtime
 * and inode of every file it depends on: the executable and the shared libraries that print the version
 * (vipsthumbnail says libvips.so's version, heif-info libheif.so's). A replaced or upgraded file differs
 * in one of them, so the version recorded in lineage is always the one of the files that run.
 */

let cacheFile: string | undefined;

/** Where versions are remembered (the home's file); none: every version is asked. Once per process. */
export function configureVersionCache(file: string | undefined): void {
  cacheFile = file;
}

/** `path|size|mtimeMs|ino` for each file, or null when one cannot be read (then nothing is remembered). */
function identityOf(files: readonly string[]): string | null {
  try {
    return files
      .map((file) => {
        const real = fs.realpathSync(file);
        const stat = fs.statSync(real);
        return `${real}|${stat.size}|${stat.mtimeMs}|${stat.ino}`;
      })
      .join(' + ');
  } catch {
    return null;
  }
}

/**
 * The version `ask` tells, remembered for `files` (the executable first). Asked again when any of them
 * changed, when one is missing, or when $LD_LIBRARY_PATH is set (the libraries that load are then not
 * the ones named here).
 */
export async function rememberedVersion(
  files: readonly string[],
  ask: () => Promise<string | null>,
): Promise<string | null> {
  const key = files.length > 0 && !process.env.LD_LIBRARY_PATH ? identityOf(files) : null;
  if (!key || !cacheFile) return ask();
  const known = readCache(cacheFile)[key];
  if (known) return known;
  const version = await ask();
  if (version) writeCache(cacheFile, { ...readCache(cacheFile), [key]: version });
  return version;
}

function readCache(file: string): Record<string, string> {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, string>;
  } catch {
    return {};
  }
}

function writeCache(file: string, cache: Record<string, string>): void {
  // Whole-file replace: concurrent workers may both write; either complete answer is right.
  const temp = `${file}.${process.pid}`;
  try {
    fs.writeFileSync(temp, `${JSON.stringify(cache)}\n`);
    fs.renameSync(temp, file);
  } catch {
    fs.rmSync(temp, { force: true });
  }
}

const MULTIARCH = `${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`;
/** Where the dynamic loader finds shared libraries on Debian and most other systems. */
const LIBRARY_DIRS = [
  '/usr/local/lib',
  `/usr/local/lib/${MULTIARCH}`,
  `/lib/${MULTIARCH}`,
  `/usr/lib/${MULTIARCH}`,
  '/lib64',
  '/usr/lib64',
  '/lib',
  '/usr/lib',
];

/**
 * Every copy of `soname` (libvips.so.42) in those folders, whichever the loader picks: a change to any
 * of them asks the version again.
 */
export function systemLibraries(soname: string): string[] {
  const found = new Set<string>();
  for (const dir of LIBRARY_DIRS) {
    try {
      found.add(fs.realpathSync(`${dir}/${soname}`));
    } catch {
      // Not in this folder.
    }
  }
  return [...found];
}
