import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { databaseIntegrity, queryDatabase, type TestDatabase } from '../../helpers/db-query.js';
import { expect } from 'vitest';

/** The store's id file (src/artifacts/store-identity.ts): in the store, but no artifact. */
export const STORE_ID_FILE = '.archivist-store-id';

/** The artifact files of a store (everything but its id file), as `listFiles` gives them. */
export function artifactFiles(store: string): string[] {
  return listFiles(store).filter((file) => file !== STORE_ID_FILE);
}

/** Relative paths (with `/`) of every file under `dir`, sorted; none if it does not exist. */
export function listFiles(dir: string, prefix = ''): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...listFiles(path.join(dir, entry.name), rel));
    else out.push(rel);
  }
  return out.sort();
}

/**
 * The store is whole: every artifact row has its file under <home>/artifacts/<path> with the recorded
 * sha256 and size, every file there has a row, and (on SQLite) the database's integrity check passes. Call it when no
 * run is active (a file renamed into place a moment before its row commits is not a fault).
 */
export function checkStore(
  home: string,
  database: TestDatabase = { kind: 'sqlite', file: path.join(home, 'archivist.db') },
  options: { afterCrash?: boolean } = {},
): void {
  expect(databaseIntegrity(database)).toBe('ok');
  const rows = queryDatabase<{ id: string; path: string; sha256: string; size: number }>(
    database,
    'select id, path, sha256, size from artifacts',
  );
  const [orphanLineage] = queryDatabase<{ n: number }>(
    database,
    'select count(*) as n from artifacts a left join lineage l on l.artifact_id = a.id where l.artifact_id is null',
  );
  expect(orphanLineage!.n, 'artifacts without lineage').toBe(0);
  const store = path.join(home, 'artifacts');
  for (const row of rows) {
    const file = path.join(store, ...row.path.split('/'));
    expect(fs.existsSync(file), `artifact ${row.id}: ${row.path} is missing from the store`).toBe(true);
    const bytes = fs.readFileSync(file);
    expect(bytes.length, `artifact ${row.id}: size`).toBe(row.size);
    expect(createHash('sha256').update(bytes).digest('hex'), `artifact ${row.id}: sha256`).toBe(row.sha256);
  }
  const referenced = new Set(rows.map((row) => row.path));
  // The store's id file (the archive it belongs to) is the one file that is no artifact.
  const unreferenced = artifactFiles(store).filter((file) => !referenced.has(file));
  // Right after a process was killed, a file renamed into the store a moment before its row would have
  // committed is no fault (gc collects it; a resumed run makes the same content-addressed file and
  // commits it): it must still be whole, but it needs no row.
  if (options.afterCrash) {
    for (const file of unreferenced) {
      const bytes = fs.readFileSync(path.join(store, ...file.split('/')));
      expect(file, 'an uncommitted file is whole (named by its hash)').toContain(
        createHash('sha256').update(bytes).digest('hex'),
      );
    }
    return;
  }
  expect(unreferenced, 'files in the store without an artifact row').toEqual([]);
}
