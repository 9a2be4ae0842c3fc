import type { z } from 'zod';
import type { MediaType } from '../store/schema.js';

/** Why an item failed, in words a person can act on; the same list the CLI and UI group failures by. */
export type FailureReason =
  | 'unsupported-format'
  | 'decode-error'
  | 'no-metadata'
  | 'tool-missing'
  | 'timeout'
  | 'worker-crashed'
  | 'source-missing'
  | 'io-error'
  | 'step-error'
  /** More pixels than the configured limit (tools.maxPixels): refused before decoding, with the figures. */
  | 'too-large'
  /** The file is not what the catalog saw (size, mtime, inode or content): re-catalog the source. */
  | 'source-changed'
  /** A FIFO, device, directory or symlink where the catalog saw a regular file. */
  | 'not-a-regular-file';

/** Reasons worth another attempt: the next one may well succeed. */
export const RETRYABLE_REASONS: ReadonlySet<FailureReason> = new Set([
  'timeout',
  'worker-crashed',
  'io-error',
]);

export interface StepInput {
  step: string;
  artifactId: string;
  /** Absolute path of the earlier step's artifact file in the store. */
  file: string;
  sha256: string;
}

/** A sidecar linked to the asset by the catalog (src/catalog/sidecar-links.ts), for steps that read them. */
export interface SidecarInput {
  kind: 'xmp' | 'takeout-json';
  /** Absolute path to open with openOriginal; `path` is what a person knows it by (source-relative). */
  file: string;
  path: string;
  /** The content hash the catalog recorded: an input of the item, so an edit makes its result stale. */
  sha256: string;
  size: number;
  mtimeNs: string;
  inode: string;
}

export interface StepContext<P> {
  asset: {
    id: string;
    mediaType: MediaType;
    mime: string | null;
    size: number;
    /** Absolute path of a present location; open it only with openOriginal (src/catalog/original-file.ts). */
    file: string;
    /** What the catalog recorded of that location (decimal strings), checked before the file is used. */
    mtimeNs?: string | null;
    inode?: string | null;
  };
  params: P;
  /** Artifacts of earlier steps this step declared in `needs`. */
  inputs: readonly StepInput[];
  /** The asset's sidecars, for a step with `readsSidecars` (else empty). */
  sidecars: readonly SidecarInput[];
  /** Aborted on cancel or timeout: kill child tools when it fires. */
  signal: AbortSignal;
  /** A scratch directory under the home, private to this worker process; remove what you no longer need (it is deleted when the worker exits). */
  scratchDir: string;
}

/** What a step produced: the bytes (or a file in its scratch dir) of one artifact, or nothing. */
export interface StepOutput {
  bytes?: Buffer;
  file?: string;
  mime: string;
  /** File extension in the store, without the dot. */
  extension: string;
}

/**
 * Expected outcomes are values: a corrupt file is not an exception, it is `failed` with a reason.
 * Exceptions thrown by a step are bugs, recorded as `step-error`.
 */
export type StepOutcome =
  | {
      status: 'done';
      output: StepOutput | null;
      command?: string;
      /**
       * The decoder chain that really made the output, for lineage: `vipsthumbnail 8.14.1 (libheif
       * 1.15.1) → sharp 0.34.5`, `ffmpeg 5.1.9 frame at 2.0 s → sharp 0.34.5`.
       */
      decoder?: string;
    }
  | { status: 'skipped'; reason: string; message: string }
  | {
      status: 'failed';
      reason: FailureReason;
      message: string;
      stderrTail?: string;
      retryable?: boolean;
      command?: string;
    };

export interface ToolInfo {
  name: string;
  /** The version actually found at run time; lineage records it. */
  version: () => Promise<string>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface StepDefinition<Params extends z.ZodObject<any> = z.ZodObject<any>> {
  name: string;
  tool: ToolInfo;
  artifactKind: string;
  /** Media types the step applies to; items of other assets are `skipped` with a reason. */
  mediaTypes: readonly MediaType[];
  params: Params;
  /** Earlier steps whose artifacts are inputs: this step's item waits until they are done. */
  needs?: readonly string[];
  /**
   * The step reads the asset's sidecars (XMP, Takeout JSON): their hashes join its cache key and lineage
   * inputs, so an edited sidecar makes its artifact stale and a new run recomputes it.
   */
  readsSidecars?: boolean;
  run(context: StepContext<z.infer<Params>>): Promise<StepOutcome>;
}

export interface PipelineDefinition {
  name: string;
  version: number;
  description: string;
  /**
   * False: a bare name (`core`) does not pick this version even when it is the newest; it is run by its
   * full reference (`core@2`). For a new version that scripts written for the previous one must not get
   * by surprise.
   */
  pickedByName?: boolean;
  steps: readonly StepDefinition[];
}
