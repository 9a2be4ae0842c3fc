import type { Kysely } from 'kysely';
export function insertSyntheticCatalog(
  db: Kysely<any>,
  options: {
    source: { id: number };
    count: number;
    seed?: number;
    factsRowOf: (input: any) => unknown;
    run?: { share: number };
    onProgress?: (done: number) => void;
  },
): Promise<{ runId: string | null }>;
