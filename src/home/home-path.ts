import os from 'node:os';
import path from 'node:path';

/**
 * Where the home is: `--home DIR`, else `$ARCHIVIST_HOME`, else the platform's user data directory.
 * Returned absolute; canonicalized (realpath) once it exists, by `openHome`.
 */
export function resolveHomePath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return absolute(flag);
  if (env.ARCHIVIST_HOME) return absolute(env.ARCHIVIST_HOME);
  return defaultHomePath(env);
}

/**
 * Absolute without normalizing: `link/../home` must reach what the OS reaches (the parent of the link's
 * target), which the realpath in `openHome` then resolves; path.resolve would drop `link/..` lexically.
 */
function absolute(dir: string): string {
  return path.isAbsolute(dir) ? dir : `${process.cwd()}${path.sep}${dir}`;
}

function defaultHomePath(env: NodeJS.ProcessEnv): string {
  switch (process.platform) {
    case 'darwin':
      return path.join(os.homedir(), 'Library', 'Application Support', 'archivist');
    case 'win32':
      return path.join(
        absoluteOr(env.LOCALAPPDATA, path.join(os.homedir(), 'AppData', 'Local')),
        'archivist',
      );
    default:
      // XDG: an unset, empty or relative $XDG_DATA_HOME is ignored (an empty one must not mean the cwd).
      return path.join(
        absoluteOr(env.XDG_DATA_HOME, path.join(os.homedir(), '.local', 'share')),
        'archivist',
      );
  }
}

function absoluteOr(value: string | undefined, fallback: string): string {
  return value && path.isAbsolute(value) ? value : fallback;
}

/** The fixed layout of a home. Everything Archivist writes lives under these paths. */
export function homeLayout(root: string) {
  return {
    root,
    database: path.join(root, 'archivist.db'),
    config: path.join(root, 'config.json'),
    artifacts: path.join(root, 'artifacts'),
    tmp: path.join(root, 'tmp'),
    logs: path.join(root, 'logs'),
    baselines: path.join(root, 'baselines'),
    /** Tool versions already asked, per binary (see ffmpeg-run.ts); losing it only costs a re-ask. */
    toolVersions: path.join(root, 'tool-versions.json'),
  } as const;
}

export type HomeLayout = ReturnType<typeof homeLayout>;

/** True when `inner` is `outer` or lies below it (both canonical). */
export function isWithin(inner: string, outer: string): boolean {
  const rel = path.relative(outer, inner);
  // `..` as a whole first segment, not as a prefix: a folder may be named `..photos`.
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}
