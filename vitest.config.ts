import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One temp folder and registry of homes per test run; a PostgreSQL server for the tests that run on
    // both dialects (started once, deleted after).
    globalSetup: ['test/global-setup.ts', 'test/support/postgres-global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Tests spawn real child processes and real SQLite files; two cores do not like many at once.
    maxWorkers: 2,
  },
});
