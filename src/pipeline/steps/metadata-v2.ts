import { makeMetadataStep, metadataToolVersion } from './metadata.js';
import { normalizeMetadataV2 } from './normalize-metadata-v2.js';
import { readSidecars } from './read-sidecars.js';

/**
 * `core@2`'s metadata step: the same tools as `core@1`'s, its own normalized schema (capture time with
 * `takenAtLocal` and `timeZoneSource`, sidecars, `fromSidecar`), and the asset's sidecars as inputs.
 * The schema is named in the tool version: the step, tools and params are otherwise `core@1`'s, and an
 * artifact of one schema must never be reused as the other.
 */
export const metadataV2Step = makeMetadataStep({
  toolVersion: async () => `${await metadataToolVersion()} + normalized v2`,
  readsSidecars: true,
  normalize: async (input, context) =>
    normalizeMetadataV2(input, await readSidecars(context.sidecars, context.signal, context.scratchDir)),
});
