import { openHome, type Home } from '../home/home.js';
import { detectInterruptedRuns } from '../runs/detect-interrupted.js';
import { resolveHomePath } from '../home/home-path.js';
import type { GlobalOptions } from './output.js';

/** Opens the home named by --home / $ARCHIVIST_HOME / the default, runs `body`, and always closes it. */
export async function withHome<T>(options: GlobalOptions, body: (home: Home) => Promise<T>): Promise<T> {
  const home = await openHome(resolveHomePath(options.home));
  try {
    // Any command notices a run whose coordinator is gone and records it as interrupted.
    await detectInterruptedRuns(home.db);
    return await body(home);
  } finally {
    await home.close();
  }
}
