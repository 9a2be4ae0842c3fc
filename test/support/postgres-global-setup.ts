import type { TestProject } from 'vitest/node';
import { startCluster } from '../../scripts/pg-cluster.mjs';

/**
 * One PostgreSQL server for the whole test run: $ARCHIVIST_TEST_DATABASE_URL when set, else a throwaway
 * cluster started from the system's binaries (scripts/pg-cluster.mjs) and deleted afterwards. Each test
 * file makes its own database on it (test/helpers/postgres.ts), so files run in parallel. Without a
 * server the PostgreSQL tests skip, saying why.
 */
export default async function setup(project: TestProject): Promise<() => void> {
  const given = process.env.ARCHIVIST_TEST_DATABASE_URL;
  if (given) {
    project.provide('postgresUrl', given);
    project.provide('postgresSkipReason', '');
    return () => undefined;
  }
  try {
    const cluster = await startCluster();
    project.provide('postgresUrl', cluster.url);
    project.provide('postgresSkipReason', '');
    return () => cluster.stop();
  } catch (error) {
    project.provide('postgresUrl', '');
    project.provide('postgresSkipReason', (error as Error).message.split('\n')[0]!);
    return () => undefined;
  }
}

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string;
    postgresSkipReason: string;
  }
}
