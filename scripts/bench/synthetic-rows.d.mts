import type { Kysely } from 'kysely';
export function insertSyntheticCatalog(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any schema: the bench and the tests pass their own
  db: Kysely<any>,
  options: {
    source: { id: number };
    count: number;
    seed?: number;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the store's FactsInput
    factsRowOf: (input: any) => unknown;
    run?: { share: number };
    onProgress?: (done: number) => void;
  },
): Promise<{ runId: string | null }>;
