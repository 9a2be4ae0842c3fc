import type { Migration, MigrationProvider } from 'kysely';
import { postgresMigrations } from '../postgres/schema-translation.js';
import * as m0001 from './0001-catalog.js';
import * as m0002 from './0002-runs.js';
import * as m0003 from './0003-claim-order-index.js';
import * as m0004 from './0004-listing-indexes.js';
import * as m0005 from './0005-fenced-leases.js';
import * as m0006 from './0006-lineage-decoder.js';
import * as m0007 from './0007-crashes-and-store-paths.js';
import * as m0010 from './0010-catalog-folders.js';
import { assetFactsMigration } from './0011-asset-facts.js';
import * as m0012 from './0012-sidecar-links.js';
import { assetRelationsMigration } from './0013-asset-relations.js';
import * as m0014 from './0014-asset-marks.js';
import * as m0015 from './0015-run-settings.js';
import * as m0017 from './0017-worker-skips-releases.js';
import * as m0019 from './0019-listing-indexes-at-scale.js';
import * as m0020 from './0020-work-items-upkeep.js';

/**
 * Every migration, in order. Listed here rather than read from a folder so the built CLI needs no
 * file lookups. Numbered, and never edited once landed: a change is a new entry.
 */
export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001-catalog': m0001,
  '0002-runs': m0002,
  '0003-claim-order-index': m0003,
  '0004-listing-indexes': m0004,
  '0005-fenced-leases': m0005,
  '0006-lineage-decoder': m0006,
  '0007-crashes-and-store-paths': m0007,
  '0010-catalog-folders': m0010,
  '0011-asset-facts': assetFactsMigration(undefined),
  '0012-sidecar-links': m0012,
  '0013-asset-relations': assetRelationsMigration(undefined),
  '0014-asset-marks': m0014,
  '0015-run-settings': m0015,
  '0017-worker-skips-releases': m0017,
  '0019-listing-indexes-at-scale': m0019,
  '0020-work-items-upkeep': m0020,
};

/** What a migration may read besides the database: 0011 and 0013 read metadata from the artifact store. */
export interface MigrationContext {
  artifactsDir?: string;
}

function withContext(context: MigrationContext): Record<string, Migration> {
  return {
    ...MIGRATIONS,
    '0011-asset-facts': assetFactsMigration(context.artifactsDir),
    '0013-asset-relations': assetRelationsMigration(context.artifactsDir),
  };
}

/** The migrations as a dialect runs them (PostgreSQL through its schema translation). */
export function migrationProvider(
  dialect: 'sqlite' | 'postgres',
  context: MigrationContext = {},
): MigrationProvider {
  const migrations = withContext(context);
  return {
    getMigrations: () =>
      Promise.resolve(dialect === 'postgres' ? postgresMigrations(migrations) : migrations),
  };
}
