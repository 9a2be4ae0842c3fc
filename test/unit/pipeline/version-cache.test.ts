import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { findOnPath } from '../../../src/pipeline/tools/tool.js';
import {
  configureVersionCache,
  rememberedVersion,
  systemLibraries,
} from '../../../src/pipeline/tools/version-cache.js';
import { configureVips, nativeVips } from '../../../src/pipeline/tools/vips-cli.js';
import { tempDir } from '../../helpers/cli.js';

/**
 * A tool's version is asked once per set of files that make it (version-cache.ts) and asked again when
 * any of them changes: the version in lineage must be the one of the files that run.
 */

let dir: string;
let cleanup: () => void;
let cache: string;
let tool: string;
let library: string;

beforeAll(() => {
  ({ dir, cleanup } = tempDir('archivist-version-cache-'));
  cache = path.join(dir, 'tool-versions.json');
  tool = path.join(dir, 'tool');
  library = path.join(dir, 'libtool.so.1.2.3');
  fs.writeFileSync(tool, '#!/bin/sh\n');
  fs.writeFileSync(library, 'v1');
});
afterEach(() => {
  configureVersionCache(undefined);
  fs.rmSync(cache, { force: true });
});
afterAll(() => cleanup());

/** An `ask` that counts its calls and answers `version`. */
function asking(version: string | null) {
  const ask = () => {
    ask.calls += 1;
    return Promise.resolve(version);
  };
  ask.calls = 0;
  return ask;
}

describe('tool versions remembered in the home', () => {
  it('asks once for the same files, again once the executable or a library changed', async () => {
    configureVersionCache(cache);
    const ask = asking('1.2.3');
    expect(await rememberedVersion([tool, library], ask)).toBe('1.2.3');
    expect(await rememberedVersion([tool, library], ask)).toBe('1.2.3');
    expect(ask.calls).toBe(1);
    // An upgraded library under the same name: a new size and mtime.
    fs.writeFileSync(library, 'version 2');
    fs.utimesSync(library, new Date(), new Date(Date.now() + 5_000));
    const upgraded = asking('2.0.0');
    expect(await rememberedVersion([tool, library], upgraded)).toBe('2.0.0');
    expect(upgraded.calls).toBe(1);
    // A replaced executable (a new inode) is asked too.
    fs.rmSync(tool);
    fs.writeFileSync(tool, '#!/bin/sh\n');
    const replaced = asking('2.0.1');
    expect(await rememberedVersion([tool, library], replaced)).toBe('2.0.1');
    expect(replaced.calls).toBe(1);
  });

  it('remembers nothing without a cache file, without files, for a missing file or a failed answer', async () => {
    const ask = asking('1.0');
    await rememberedVersion([tool], ask);
    await rememberedVersion([tool], ask);
    expect(ask.calls).toBe(2);
    configureVersionCache(cache);
    for (const files of [[], [tool, path.join(dir, 'gone.so')]]) {
      const again = asking('1.0');
      await rememberedVersion(files, again);
      await rememberedVersion(files, again);
      expect(again.calls, files.join(', ')).toBe(2);
    }
    const failing = asking(null);
    await rememberedVersion([tool], failing);
    await rememberedVersion([tool], failing);
    expect(failing.calls).toBe(2);
    expect(fs.existsSync(cache)).toBe(false);
  });

  it('asks every time while $LD_LIBRARY_PATH chooses other libraries', async () => {
    configureVersionCache(cache);
    const saved = process.env.LD_LIBRARY_PATH;
    process.env.LD_LIBRARY_PATH = dir;
    try {
      const ask = asking('1.0');
      await rememberedVersion([tool, library], ask);
      await rememberedVersion([tool, library], ask);
      expect(ask.calls).toBe(2);
    } finally {
      if (saved === undefined) delete process.env.LD_LIBRARY_PATH;
      else process.env.LD_LIBRARY_PATH = saved;
    }
  });

  it.skipIf(!findOnPath('vipsthumbnail'))(
    "vipsthumbnail's libvips version is remembered for the binary and the system's libvips.so.42",
    async () => {
      const libraries = systemLibraries('libvips.so.42');
      expect(libraries.length).toBeGreaterThan(0);
      // The library's real file, not the soname link: an upgrade installs a new file.
      for (const file of libraries) expect(fs.lstatSync(file).isSymbolicLink()).toBe(false);
      configureVersionCache(cache);
      configureVips({});
      const asked = await nativeVips();
      const remembered = JSON.parse(fs.readFileSync(cache, 'utf8')) as Record<string, string>;
      const key = Object.keys(remembered).find((k) => k.includes('vipsthumbnail'))!;
      expect(key).toContain(libraries[0]!);
      expect(remembered[key]).toBe(asked?.version);
      // A later process takes the remembered answer: nothing is started to ask it.
      fs.writeFileSync(cache, JSON.stringify({ ...remembered, [key]: '0.0.remembered' }));
      configureVips({});
      expect((await nativeVips())?.version).toBe('0.0.remembered');
      configureVips({});
    },
  );
});
