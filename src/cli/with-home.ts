import { openHome, type Home } from '../home/home.js';
import { detectInterruptedRuns } from '../runs/detect-interrupted.js';
import { diskFullError, isDiskFull } from '../runs/disk-full.js';
import { resolveHomePath } from '../home/home-path.js';
import type { GlobalOptions } from './output.js';

/** Opens the home named by --home / $ARCHIVIST_HOME / the default, runs `body`, and always closes it. */
export async function withHome<T>(options: GlobalOptions, body: (home: Home) => Promise<T>): Promise<T> {
  const home = await openHome(resolveHomePath(options.home));
  try {
    // Any command notices a run whose coordinator is gone and records it as interrupted. On a full disk
    // that record cannot be written: the command still answers (reads need no space), and a later
    // command records it once there is room.
    await detectInterruptedRuns(home.db).catch((error: unknown) => {
      if (!isDiskFull(error)) throw error;
    });
    return await body(home);
  } catch (error) {
    // A write refused by a full disk is said as such, with the figures, never as a stack trace.
    throw isDiskFull(error) ? diskFullError(home.layout.root, error) : error;
  } finally {
    await home.close();
  }
}
