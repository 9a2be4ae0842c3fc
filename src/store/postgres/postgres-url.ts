/**
 * What the rest of Archivist needs to know of a PostgreSQL URL without loading `pg`: a SQLite home's
 * commands and workers never import the driver (it is a good part of a worker's start-up; see
 * database.ts, which loads it only to open a PostgreSQL database).
 */

/** The URL with its password hidden, for messages and `doctor`. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

export function isPostgresUrl(value: string): boolean {
  return /^postgres(ql)?:\/\//i.test(value);
}
