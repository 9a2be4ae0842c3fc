import { spawn } from 'node:child_process';

/**
 * Removes `dirs` once the process `pid` is gone, from a detached shell that outlives it: a test run or bench
 * killed before its teardown (Ctrl-C twice, a CI timeout, SIGKILL) would otherwise leave its folders in the
 * temp dir for good (the drill media alone are about 200 MB). The shell checks every 2 s and ends by itself
 * once the normal teardown has removed the folders.
 */
export function removeWhenGone(pid, dirs) {
  const script =
    'pid=$1; shift; while kill -0 "$pid" 2>/dev/null; do ' +
    'still=0; for d in "$@"; do [ -e "$d" ] && still=1; done; [ "$still" = 0 ] && exit 0; sleep 2; done; ' +
    'rm -rf -- "$@"';
  spawn('sh', ['-c', script, 'sh', String(pid), ...dirs], { detached: true, stdio: 'ignore' }).unref();
}
