import os from 'node:os';
import type { CaptureFacts } from '../catalog/capture-facts.js';
import type { StoredFile } from '../artifacts/artifact-store.js';
import type { SidecarInput, StepDefinition, StepInput } from '../pipeline/step.js';
import type { RunRow } from '../store/schema.js';
import type { DoneResult } from './finish-work-item.js';
import { newArtifactId } from './run-id.js';

export interface DoneFacts {
  run: RunRow;
  step: StepDefinition;
  assetId: string;
  workerId: string;
  tool: { name: string; version: string };
  /** The decoder chain the step reported, if any. */
  decoder?: string | undefined;
  params: Record<string, unknown>;
  inputs: readonly StepInput[];
  /** The sidecars the step read (their hashes are in the cache key): lineage names each one. */
  sidecars?: readonly SidecarInput[];
  cacheKey: string;
  mime: string;
  durationMs: number;
  sandboxRetentionDays: number;
  /** A metadata step's capture facts, read from its output (asset_facts). */
  capture?: CaptureFacts;
}

/** A done item's record: the new artifact (a stored file, or none) with its lineage. */
export function doneResult(facts: DoneFacts, stored: StoredFile | null): DoneResult {
  const { run, step, assetId } = facts;
  if (!stored) return { durationMs: facts.durationMs, artifact: null, makeCurrent: null };
  return {
    durationMs: facts.durationMs,
    artifact: {
      created: {
        id: newArtifactId(),
        kind: step.artifactKind,
        step: step.name,
        assetId,
        runId: run.id,
        sha256: stored.sha256,
        size: stored.size,
        mime: facts.mime,
        path: stored.path,
        cacheKey: facts.cacheKey,
        policy: run.policy,
        // Sandbox results are for looking, not keeping: they expire and never become current.
        expiresAt:
          run.policy === 'sandbox'
            ? new Date(Date.now() + facts.sandboxRetentionDays * 86_400_000).toISOString()
            : null,
      },
      lineage: {
        runId: run.id,
        pipeline: { name: run.pipeline_name, version: run.pipeline_version },
        step: step.name,
        tool: facts.tool,
        decoder: facts.decoder ?? null,
        params: facts.params,
        inputs: [
          { assetId, sha256: assetId },
          ...facts.inputs.map((input) => ({ assetId, sha256: input.sha256, artifactId: input.artifactId })),
          // A sidecar is an asset of its own (its bytes); `role` and `path` say what it was to this item.
          ...(facts.sidecars ?? []).map((sidecar) => ({
            assetId: sidecar.sha256,
            sha256: sidecar.sha256,
            role: 'sidecar' as const,
            kind: sidecar.kind,
            path: sidecar.path,
          })),
        ],
        worker: facts.workerId,
        host: os.hostname(),
        durationMs: facts.durationMs,
        createdAt: new Date().toISOString(),
      },
    },
    makeCurrent: run.policy === 'production' ? { assetId, kind: step.artifactKind } : null,
    capture: facts.capture,
  };
}
