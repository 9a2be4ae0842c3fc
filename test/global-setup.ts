import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * One temporary folder per test run, for what test files share (the drill media, the screenshots of an
 * ordinary run), removed when the run ends: a test run leaves nothing in the temp folder. Set
 * ARCHIVIST_TEST_SHARED_DIR to a folder of your own to keep the generated media between runs.
 */
export default function setup(): () => void {
  if (process.env.ARCHIVIST_TEST_SHARED_DIR) return () => undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'archivist-test-run-'));
  // Set before vitest starts its workers, so every test file's process inherits it.
  process.env.ARCHIVIST_TEST_SHARED_DIR = dir;
  return () => fs.rmSync(dir, { recursive: true, force: true });
}
