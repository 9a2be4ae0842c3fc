import { createHash } from 'node:crypto';

/**
 * The cache key of PRODUCT section 3: the same step, tool and version, params and input content always
 * give the same key, so identical work is found and reused instead of recomputed. Params are sorted so
 * that the order they were given in does not matter.
 */
export function cacheKeyOf(parts: {
  step: string;
  tool: { name: string; version: string };
  params: Record<string, unknown>;
  inputSha256: readonly string[];
}): string {
  const params = Object.fromEntries(Object.entries(parts.params).sort(([a], [b]) => a.localeCompare(b)));
  return createHash('sha256')
    .update(JSON.stringify([parts.step, parts.tool.name, parts.tool.version, params, parts.inputSha256]))
    .digest('hex');
}
