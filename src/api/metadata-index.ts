import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { readStoredArtifact, absoluteArtifactPath } from '../artifacts/artifact-store.js';
import type { Home } from '../home/home.js';
import { listingVersions, metadataArtifacts } from '../store/assets-repository.js';

/** What the asset filters need from an asset's normalized metadata (PRODUCT section 5). */
export interface MetadataFacts {
  /** ISO 8601 with offset, or UTC `Z` when the zone is unknown. */
  takenAt: string | null;
  /** The tag the time came from, or `mtime` when the metadata step fell back to the file's time. */
  takenAtSource: string | null;
  /** core@2: the wall-clock time where it was taken, ISO 8601 without offset. */
  takenAtLocal: string | null;
  timeZone: string | null;
  /** Make and model as a person says it: "Canon EOS 40D". */
  camera: string | null;
  /** A video's length in seconds. */
  durationSec: number | null;
}

const NO_FACTS: MetadataFacts = {
  takenAt: null,
  takenAtSource: null,
  takenAtLocal: null,
  timeZone: null,
  camera: null,
  durationSec: null,
};

function text(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
}

export function factsOf(metadata: unknown): MetadataFacts {
  const m = metadata && typeof metadata === 'object' ? (metadata as Record<string, unknown>) : {};
  const make = text(m.make);
  const model = text(m.model);
  const camera =
    make && model
      ? model.toLowerCase().startsWith(make.toLowerCase())
        ? model
        : `${make} ${model}`
      : (make ?? model);
  const duration = m.durationSec;
  return {
    takenAt: text(m.takenAt),
    takenAtSource: text(m.takenAtSource),
    takenAtLocal: text(m.takenAtLocal),
    timeZone: text(m.timeZone),
    camera,
    durationSec: typeof duration === 'number' && Number.isFinite(duration) ? duration : null,
  };
}

/**
 * The capture time and camera of every asset that has a metadata artifact, read from the store and kept
 * by artifact id: artifacts are content-addressed and never change, so an entry never goes stale; a newer
 * metadata artifact is simply a new entry. Used when a request filters or sorts on metadata, and for the
 * date and duration a grid tile shows.
 */
export class MetadataIndex {
  private readonly byArtifact = new Map<string, MetadataFacts>();
  /** The last answer, kept until the artifacts change. */
  private last: { version: string; facts: Promise<Map<string, MetadataFacts>> } | undefined;

  constructor(private readonly home: Home) {}

  async byAsset(): Promise<Map<string, MetadataFacts>> {
    const { artifacts: version } = await listingVersions(this.home.db);
    if (this.last?.version !== version) {
      const facts = this.read();
      this.last = { version, facts };
      facts.catch(() => (this.last = undefined));
    }
    return this.last.facts;
  }

  private async read(): Promise<Map<string, MetadataFacts>> {
    const rows = await metadataArtifacts(this.home.db);
    const out = new Map<string, MetadataFacts>();
    let read = 0;
    for (const row of rows) {
      let facts = this.byArtifact.get(row.id);
      if (!facts) {
        try {
          const bytes = readStoredArtifact(
            this.home.layout,
            absoluteArtifactPath(this.home.layout, row.path),
          );
          facts = factsOf(JSON.parse(bytes.toString('utf8')));
        } catch {
          facts = NO_FACTS; // gone from the store (gc) or not JSON
        }
        this.byArtifact.set(row.id, facts);
        // Reading thousands of files at once must not stall the other requests.
        if (++read % 200 === 0) await yieldToLoop();
      }
      out.set(row.assetId, facts);
    }
    return out;
  }

  /** Ids of the assets whose metadata matches; dates are compared on the photo's own calendar day. */
  async matching(filters: { takenFrom?: string; takenTo?: string; camera?: string }): Promise<string[]> {
    const camera = filters.camera?.toLowerCase();
    const ids: string[] = [];
    for (const [assetId, facts] of await this.byAsset()) {
      const day = (facts.takenAtLocal ?? facts.takenAt)?.slice(0, 10);
      if (filters.takenFrom && (!day || day < filters.takenFrom)) continue;
      if (filters.takenTo && (!day || day > filters.takenTo)) continue;
      if (camera && !facts.camera?.toLowerCase().includes(camera)) continue;
      ids.push(assetId);
    }
    return ids;
  }

  async cameras(): Promise<string[]> {
    const names = new Set<string>();
    for (const facts of (await this.byAsset()).values()) if (facts.camera) names.add(facts.camera);
    return [...names].sort((a, b) => a.localeCompare(b));
  }
}
