/**
 * Runs one query on PostgreSQL and prints the rows as JSON: the synchronous `query` of the e2e harness
 * (test/helpers/db-query.ts) runs it as a child process, as it reads SQLite with better-sqlite3. Values
 * come back as Archivist reads them: bigint and numeric as numbers, timestamptz as ISO strings.
 * stdin: {"url": "...", "sql": "... $1 ...", "params": [...]}
 */
import process from 'node:process';
import pg from 'pg';

const input = JSON.parse(
  await new Promise((resolve) => {
    let text = '';
    process.stdin.on('data', (chunk) => (text += chunk));
    process.stdin.on('end', () => resolve(text));
  }),
);
const types = {
  getTypeParser(oid, format) {
    if (oid === 20 || oid === 1700) return (value) => Number(value);
    if (oid === 1184) return (value) => new Date(value).toISOString();
    return pg.types.getTypeParser(oid, format);
  },
};
const client = new pg.Client({ connectionString: input.url, types });
await client.connect();
try {
  const result = await client.query(input.sql, input.params);
  process.stdout.write(JSON.stringify(result.rows));
} finally {
  await client.end();
}
