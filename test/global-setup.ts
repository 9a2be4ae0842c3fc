import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { removeWhenGone } from '../scripts/remove-when-gone.mjs';

/**
 * One temporary folder per test run, for what test files share (the drill media, the screenshots of an
 * ordinary run), removed when the run ends: a test run leaves nothing in the temp folder. Set
 * ARCHIVIST_TEST_SHARED_DIR to a folder of your own to keep the generated media between runs.
 */
export default function setup(): () => void {
  // The registry of homes (src/home/known-homes.ts) of a test run is its own, never the user's.
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'archivist-test-state-'));
  process.env.ARCHIVIST_STATE_DIR = state;
  const removeState = () => fs.rmSync(state, { recursive: true, force: true });
  if (process.env.ARCHIVIST_TEST_SHARED_DIR) {
    removeWhenGone(process.pid, [state]);
    return removeState;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'archivist-test-run-'));
  // A killed test run never reaches the teardown below.
  removeWhenGone(process.pid, [state, dir]);
  // Set before vitest starts its workers, so every test file's process inherits it.
  process.env.ARCHIVIST_TEST_SHARED_DIR = dir;
  return () => {
    removeState();
    fs.rmSync(dir, { recursive: true, force: true });
  };
}
