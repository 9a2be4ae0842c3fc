import fs from 'node:fs';
import path from 'node:path';
import { ArchivistError, errnoCode } from '../errors.js';

/**
 * The artifact store's id file: the id of the archive whose database records what the store holds. Every
 * host that works on the archive mounts the same store, and the check keeps a store of another archive
 * (a wrong mount, a copied home) from being written into or read as this one's. `gc` never deletes it.
 */
export const STORE_ID_FILE = '.archivist-store-id';

export function storeIdPath(storeDir: string): string {
  return path.join(storeDir, STORE_ID_FILE);
}

/** The archive id the store belongs to, or undefined when it has no id file (yet). */
export function readStoreId(storeDir: string): string | undefined {
  try {
    return fs.readFileSync(storeIdPath(storeDir), 'utf8').trim() || undefined;
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Checks that the store belongs to `archiveId`; a store without an id file is claimed for it when
 * `claim` (a home's own store, made before id files existed), and refused otherwise.
 */
export function checkStoreIdentity(
  storeDir: string,
  archiveId: string,
  options: { claim: boolean; database: string },
): void {
  const found = readStoreId(storeDir);
  if (found === archiveId) return;
  if (found === undefined && options.claim) {
    fs.writeFileSync(storeIdPath(storeDir), `${archiveId}\n`, { flag: 'wx' });
    return;
  }
  throw new ArchivistError(
    'archive-mismatch',
    found === undefined
      ? `the artifact store ${storeDir} has no ${STORE_ID_FILE}: it is not the store of archive ${archiveId} (database ${options.database})`
      : `the artifact store ${storeDir} belongs to archive ${found}, but the database ${options.database} is archive ${archiveId}`,
    {
      hint: 'Point --store (or the home) at the store of the same archive as the database, as this host mounts it.',
    },
  );
}
