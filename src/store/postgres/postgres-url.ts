/**
 * What the rest of Archivist needs to know of a PostgreSQL URL without loading `pg`: a SQLite home's
 * commands and workers never import the driver (it is a good part of a worker's start-up; see
 * database.ts, which loads it only to open a PostgreSQL database).
 */

/** The URL with its password hidden (in the user part and in a `password=` param), for messages and `doctor`. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    if (parsed.searchParams.has('password')) parsed.searchParams.set('password', '***');
    return parsed.toString();
  } catch {
    // WHATWG URL refuses a user with no host, which is how libpq URLs name a Unix socket
    // (`postgres://me:secret@/db?host=/run/postgresql`): those are still shown, by pattern.
    if (!isPostgresUrl(url)) return 'postgres://(unparsable URL)';
    return url
      .replace(/^(postgres(?:ql)?:\/\/[^:@/?#]*):[^@/?#]*@/i, '$1:***@')
      .replace(/([?&]password=)[^&#]*/gi, '$1***');
  }
}

export function isPostgresUrl(value: string): boolean {
  return /^postgres(ql)?:\/\//i.test(value);
}
