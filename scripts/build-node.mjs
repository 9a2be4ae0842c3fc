#!/usr/bin/env node
/**
 * The step after `tsc` in `npm run build`: bundles the pure-JavaScript packages only our own code uses
 * into one file each under `dist/vendor/`, and points the compiled imports at them.
 *
 * Why: every `archivist` command, every run's coordinator and each of its workers is a Node start-up, three
 * processes deep before a run's first artifact. Loaded the way Node resolves it, kysely is 279 ES modules,
 * about 160 ms per process; bundled into one file it loads in about 16 ms (commander: 20 ms, 5 ms).
 * `dist/` keeps one file per source file otherwise, so paths built from `import.meta.url` (the worker
 * entry, the web root) and pipeline modules that import `dist/pipeline/registry.js` see the very modules
 * the CLI runs. Native addons (sharp, better-sqlite3) stay in node_modules, and so does zod: a pipeline
 * module's params schema must come from the same zod that parses it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist');
const VENDOR = path.join(DIST, 'vendor');
const BUNDLED = ['kysely', 'commander'];

fs.rmSync(VENDOR, { recursive: true, force: true });
for (const name of BUNDLED) {
  await build({
    input: name, // the package's own entry, resolved as Node would for an import
    platform: 'node',
    logLevel: 'warn',
    output: { file: path.join(VENDOR, `${name}.js`), format: 'esm', codeSplitting: false },
  });
}

// `import … from 'kysely'`, `export … from 'kysely'` and `import('kysely')` as tsc wrote them.
const specifier = new RegExp(`(\\bfrom\\s*|\\bimport\\s*\\(\\s*)(['"])(${BUNDLED.join('|')})\\2`, 'g');
let rewritten = 0;
for (const file of fs.readdirSync(DIST, { recursive: true, encoding: 'utf8' })) {
  if (!file.endsWith('.js') || file.startsWith('vendor') || file.startsWith('web')) continue;
  const full = path.join(DIST, file);
  const code = fs.readFileSync(full, 'utf8');
  const next = code.replace(specifier, (_match, lead, quote, name) => {
    const target = path.relative(path.dirname(full), path.join(VENDOR, `${name}.js`));
    return `${lead}${quote}${target.startsWith('.') ? target : `./${target}`}${quote}`;
  });
  if (next !== code) {
    fs.writeFileSync(full, next);
    rewritten += 1;
  }
}
if (rewritten === 0) throw new Error('build-node: no import of a bundled package found in dist/');
