import type { Kysely } from 'kysely';

/**
 * The decoder chain that really made an artifact (issue 13), next to the step's tool set: e.g.
 * `vipsthumbnail 8.14.1 (libheif 1.15.1) → sharp 0.34.5` or `ffmpeg 5.1.9 frame at 2.0 s → sharp 0.34.5`.
 * Null for artifacts made before it was recorded, and for steps that do not say.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('lineage').addColumn('decoder', 'text').execute();
}
