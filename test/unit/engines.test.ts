import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';

/**
 * Issue 16: `npm ci` warned `EBADENGINE cookie@2.0.2 requires node >=22` though the README promises Node
 * 20. Every package the lock file installs must accept the oldest Node this project supports (its own
 * `engines.node`), so a clean install on Node 20 prints no engine warning.
 */

const require = createRequire(import.meta.url);
// semver is npm's own range logic, installed with the tooling; read the same way npm reads ranges.
const semver = require('semver') as {
  minVersion(range: string): { version: string } | null;
  satisfies(version: string, range: string): boolean;
};

interface Lock {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
}

it('installs no package that refuses the oldest supported Node', () => {
  const own = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
    engines: { node: string };
  };
  const oldest = semver.minVersion(own.engines.node)!.version;
  expect(oldest).toBe('20.0.0');
  const lock = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package-lock.json'), 'utf8')) as Lock;
  const refusing = Object.entries(lock.packages).flatMap(([where, pkg]) => {
    const range = pkg.engines && !Array.isArray(pkg.engines) ? pkg.engines.node : undefined;
    if (!where || !range) return [];
    // Node 20's latest line is what a user on "Node 20" has: the range must take some 20.x.
    const takes20 = ['20.0.0', '20.19.0', '20.99.0'].some((v) => semver.satisfies(v, range));
    return takes20 ? [] : [`${where.replace(/^node_modules\//, '')}@${pkg.version} requires node ${range}`];
  });
  expect(refusing).toEqual([]);
});
