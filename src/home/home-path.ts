import os from 'node:os';
import path from 'node:path';

/**
 * Where the home is: `--home DIR`, else `$ARCHIVIST_HOME`, else the platform's user data directory.
 * Returned absolute; canonicalized (realpath) once it exists, by `openHome`.
 */
export function resolveHomePath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return path.resolve(flag);
  if (env.ARCHIVIST_HOME) return path.resolve(env.ARCHIVIST_HOME);
  return defaultHomePath(env);
}

function defaultHomePath(env: NodeJS.ProcessEnv): string {
  switch (process.platform) {
    case 'darwin':
      return path.join(os.homedir(), 'Library', 'Application Support', 'archivist');
    case 'win32':
      return path.join(env.LOCALAPPDATA ?? path.join(os.homedir(), 'AppData', 'Local'), 'archivist');
    default:
      return path.join(env.XDG_DATA_HOME ?? path.join(os.homedir(), '.local', 'share'), 'archivist');
  }
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
  } as const;
}

export type HomeLayout = ReturnType<typeof homeLayout>;

/** True when `inner` is `outer` or lies below it (both canonical). */
export function isWithin(inner: string, outer: string): boolean {
  const rel = path.relative(outer, inner);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}
