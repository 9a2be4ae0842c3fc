// The API's JSON, typed by the very modules that produce it on the server (type-only imports: nothing of
// the server ends up in the browser bundle).
import type { ErrorBody } from '../../src/api/http-errors.js';
import type { AssetListItem } from '../../src/api/routes/assets.js';
import type { ProgressSnapshot } from '../../src/api/routes/run-events.js';
import type { ArtifactJson } from '../../src/artifacts/artifact-json.js';
import type { AssetDetail } from '../../src/catalog/asset-detail.js';
import type { AssetJson } from '../../src/catalog/asset-json.js';
import type { RunComparison } from '../../src/runs/compare-runs.js';
import type { FailureJson, RunJson } from '../../src/runs/run-json.js';
import type { AssetWorkItem, StepCounts } from '../../src/store/run-outcomes-repository.js';

export type {
  ArtifactJson,
  AssetJson,
  AssetListItem,
  AssetWorkItem,
  FailureJson,
  ProgressSnapshot,
  RunComparison,
  RunJson,
  StepCounts,
};

/** `GET /api/assets/:id`: the same document as `archivist asset --json` (src/catalog/asset-detail.ts). */
export type { AssetDetail };

export interface AssetPage {
  total: number;
  offset: number;
  limit: number;
  nextCursor: string | null;
  items: AssetListItem[];
}

export interface RunSummary {
  id: string;
  status: RunJson['status'];
  statusReason: string | null;
  pipeline: { name: string; version: number };
  policy: string;
  collection: string | null;
  parentRunId: string | null;
  promotedFrom: string | null;
  createdAt: string;
  counts: StepCounts;
  steps: Record<string, StepCounts>;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface Status {
  assets: number;
  artifacts: number;
  lastArtifactAt: string | null;
  activeRuns: string[];
}

export interface Facets {
  sources: string[];
  types: string[];
  steps: string[];
  artifactKinds: string[];
  cameras: string[];
}

export interface CollectionSummary {
  name: string;
  filters: Record<string, unknown>;
  assets: number;
  createdAt: string;
}

export interface JsonSchemaProperty {
  type?: string;
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  description?: string;
}

export interface PipelineInfo {
  name: string;
  version: number;
  ref: string;
  description: string;
  steps: {
    name: string;
    artifactKind: string;
    mediaTypes: string[];
    needs: string[];
    tool: string;
    params: { properties?: Record<string, JsonSchemaProperty> };
  }[];
}

/** An error the server explained: its message, and the field of the request it is about. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody['error'],
  ) {
    super(body.message);
  }
}

async function parse<T>(response: Response): Promise<T> {
  const text = await response.text();
  const json = text ? (JSON.parse(text) as unknown) : null;
  if (!response.ok) {
    const error = (json as ErrorBody | null)?.error ?? {
      code: 'internal',
      message: `${response.status} ${response.statusText}`,
      retryable: false,
    };
    throw new ApiError(response.status, error);
  }
  return json as T;
}

export async function getJson<T>(url: string, signal?: AbortSignal): Promise<T> {
  return parse<T>(await fetch(url, { signal, headers: { accept: 'application/json' } }));
}

export async function postJson<T>(url: string, body: unknown = {}): Promise<T> {
  return parse<T>(
    await fetch(url, {
      method: 'POST',
      // The server refuses a state change without this header: a cross-site HTML form cannot send it.
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        'x-archivist-request': '1',
      },
      body: JSON.stringify(body),
    }),
  );
}

export const artifactFileUrl = (id: string) => `/api/artifacts/${encodeURIComponent(id)}/file`;
export const originalUrl = (assetId: string) => `/api/assets/${assetId}/original`;
