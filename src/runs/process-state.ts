import fs from 'node:fs';

/**
 * A process's state letter in /proc/<pid>/stat (`R`, `S`, `T` stopped by a signal, `Z` a zombie...), or
 * null where there is none to read: no /proc (macOS), or no such process.
 */
export function processState(pid: number): string | null {
  try {
    // "pid (command) state ...": the command may hold spaces and parentheses, so read past the last ')'.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const end = stat.lastIndexOf(')');
    return stat.slice(end + 2, end + 3) || null;
  } catch {
    return null;
  }
}

/** Stopped by a signal (SIGSTOP, SIGTSTP: `T`) or by a debugger (`t`). */
export function isStoppedBySignal(pid: number): boolean {
  const state = processState(pid);
  return state === 'T' || state === 't';
}
