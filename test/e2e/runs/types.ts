/**
 * The JSON the CLI prints and the rows the drills read straight from SQLite: the project's own types,
 * so a change to the contract shows up here as a type error rather than as a drill reading a stale shape.
 */
import type { ArtifactJson } from '../../../src/artifacts/artifact-json.js';
import type { AssetJson as CatalogAssetJson } from '../../../src/catalog/asset-json.js';

export type { ArtifactJson } from '../../../src/artifacts/artifact-json.js';
export type { RunJson } from '../../../src/runs/run-json.js';
export type { StepCounts } from '../../../src/store/run-outcomes-repository.js';
export type { ArtifactRow, LineageRow, WorkItemRow as ItemRow } from '../../../src/store/schema.js';

/** `archivist asset --json`: the catalog's view plus what runs made of it. */
export interface AssetJson extends CatalogAssetJson {
  artifacts: ArtifactJson[];
  metadata: Record<string, unknown> | null;
}
