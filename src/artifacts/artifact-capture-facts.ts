import fs from 'node:fs';
import { captureFactsOf, NO_FACTS, type CaptureFacts } from '../catalog/capture-facts.js';
import type { HomeLayout } from '../home/home-path.js';
import type { StepOutput } from '../pipeline/step.js';
import { absoluteArtifactPath } from './artifact-store.js';

/**
 * The capture facts of a metadata artifact, for the facts row written when it becomes current: from the
 * step's output as it is stored, or from the stored file an identical item reuses. Unreadable or not JSON
 * gives no facts (the asset is then placed by its file time), never a failed item.
 */
export function captureFactsOfOutput(output: StepOutput, layout: HomeLayout, stored: string): CaptureFacts {
  if (!output.bytes) return captureFactsOfStored(layout, stored); // a file output was moved into the store
  try {
    return captureFactsOf(JSON.parse(output.bytes.toString('utf8')));
  } catch {
    return NO_FACTS;
  }
}

export function captureFactsOfStored(layout: HomeLayout, relative: string): CaptureFacts {
  try {
    return captureFactsOf(JSON.parse(fs.readFileSync(absoluteArtifactPath(layout, relative), 'utf8')));
  } catch {
    return NO_FACTS;
  }
}
