/**
 * The pipelines that ship with Archivist register here. The `core` pipeline (metadata and thumbnails)
 * is the next piece of work; until it lands, only pipelines loaded through $ARCHIVIST_PIPELINE_MODULES
 * exist.
 */
export function registerBuiltinPipelines(): void {}
