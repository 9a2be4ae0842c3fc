import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HEAD_BYTES,
  hashSourceFile,
  openSourceFile,
  SourceReadError,
} from '../../src/catalog/source-reader.js';
import { REPO_ROOT, tempDir } from '../helpers/cli.js';

/**
 * Read-only by construction (PRODUCT section 1, issue 2): one module, src/catalog/source-reader.ts, opens
 * files under a source, and it opens them O_RDONLY | O_NOFOLLOW (| O_NOATIME where permitted).
 *
 * (a) Statically: no other module under src/ may call an fs API that opens, creates, writes, moves,
 *     deletes or changes the metadata of a file, or open a SQLite database, unless it is listed below with
 *     the APIs it uses and why they never touch a source.
 * (b) At run time: the descriptors source-reader hands out are read-only, and it refuses what is not a
 *     regular file (a FIFO, a symlink) without hanging.
 */

const READER = 'src/catalog/source-reader.ts';

/** fs functions that open, create, write, move, delete or change the metadata of a path. */
const FILE_TOUCHING_FS_API =
  /^(open|createReadStream|createWriteStream|readFile|writeFile|appendFile|copyFile|cp|rename|rm|rmdir|unlink|truncate|ftruncate|utimes|lutimes|futimes|chmod|lchmod|fchmod|chown|lchown|fchown|symlink|link|mkdir|mkdtemp|write|writev)(Sync)?$/;
/** Modules whose import alone means opening files: any value import of them is a finding. */
const FILE_OPENING_MODULES = new Set(['better-sqlite3']);
const FS_MODULES = new Set(['fs', 'node:fs', 'fs/promises', 'node:fs/promises']);

interface Finding {
  file: string;
  line: number;
  /** `fs.writeFileSync`, `import better-sqlite3`, `dynamic fs access`... */
  api: string;
}

/**
 * Finds every use of a file-touching fs API in one TypeScript source: through a default or namespace
 * import (`fs.open`, `fs.promises.rm`, `fsp.writeFile`), a named import (`import { rm } from 'node:fs'`),
 * destructuring (`const { open } = fs.promises`), an alias (`const p = fs.promises`), element access
 * (`fs['open']`), plus `require`/dynamic `import()` of fs and imports of file-opening libraries.
 */
function findFileAccess(file: string, text: string): Finding[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const findings: Finding[] = [];
  const report = (node: ts.Node, api: string) =>
    findings.push({ file, line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1, api });
  /** Local names bound to the fs module or to fs.promises. */
  const aliases = new Set<string>();

  const isFsRef = (expr: ts.Expression): boolean => {
    if (ts.isParenthesizedExpression(expr) || ts.isAsExpression(expr) || ts.isNonNullExpression(expr))
      return isFsRef(expr.expression);
    if (ts.isIdentifier(expr)) return aliases.has(expr.text);
    if (ts.isPropertyAccessExpression(expr)) return expr.name.text === 'promises' && isFsRef(expr.expression);
    return false;
  };
  const isFsSpecifier = (node: ts.Node): boolean => ts.isStringLiteralLike(node) && FS_MODULES.has(node.text);

  // Pass 1: imports and aliases (repeated until stable, so `const p = fs.promises; const q = p` is seen).
  for (const statement of source.statements) {
    if (!ts.isImportDeclaration(statement) || statement.importClause?.isTypeOnly) continue;
    const from = (statement.moduleSpecifier as ts.StringLiteral).text;
    if (FILE_OPENING_MODULES.has(from)) report(statement, `import ${from}`);
    if (!FS_MODULES.has(from)) continue;
    const clause = statement.importClause;
    if (!clause) continue;
    if (clause.name) aliases.add(clause.name.text);
    const bindings = clause.namedBindings;
    if (bindings && ts.isNamespaceImport(bindings)) aliases.add(bindings.name.text);
    if (bindings && ts.isNamedImports(bindings)) {
      for (const element of bindings.elements) {
        if (element.isTypeOnly) continue;
        const imported = (element.propertyName ?? element.name).text;
        if (imported === 'promises' || imported === 'default') aliases.add(element.name.text);
        else if (FILE_TOUCHING_FS_API.test(imported))
          report(element, `import { ${imported} } from '${from}'`);
      }
    }
  }
  for (let size = -1; size !== aliases.size;) {
    size = aliases.size;
    const collect = (node: ts.Node): void => {
      if (
        ts.isVariableDeclaration(node) &&
        node.initializer &&
        ts.isIdentifier(node.name) &&
        isFsRef(node.initializer)
      )
        aliases.add(node.name.text);
      ts.forEachChild(node, collect);
    };
    collect(source);
  }

  // Pass 2: uses.
  const visit = (node: ts.Node): void => {
    if (
      ts.isPropertyAccessExpression(node) &&
      isFsRef(node.expression) &&
      FILE_TOUCHING_FS_API.test(node.name.text)
    ) {
      report(node, `fs.${node.name.text}`);
    } else if (ts.isElementAccessExpression(node) && isFsRef(node.expression)) {
      const key = node.argumentExpression;
      if (!ts.isStringLiteralLike(key)) report(node, 'fs[<computed>]');
      else if (FILE_TOUCHING_FS_API.test(key.text)) report(node, `fs.${key.text}`);
    } else if (
      ts.isVariableDeclaration(node) &&
      node.initializer &&
      ts.isObjectBindingPattern(node.name) &&
      isFsRef(node.initializer)
    ) {
      for (const element of node.name.elements) {
        const name = element.propertyName ?? element.name;
        const text = ts.isIdentifier(name) || ts.isStringLiteralLike(name) ? name.text : '<computed>';
        if (text === '<computed>' || FILE_TOUCHING_FS_API.test(text)) report(element, `fs.${text}`);
      }
    } else if (ts.isCallExpression(node)) {
      const [first] = node.arguments;
      const isRequire = ts.isIdentifier(node.expression) && node.expression.text === 'require';
      const isDynamicImport = node.expression.kind === ts.SyntaxKind.ImportKeyword;
      if ((isRequire || isDynamicImport) && first && isFsSpecifier(first)) report(node, 'dynamic fs access');
      if (
        (isRequire || isDynamicImport) &&
        first &&
        ts.isStringLiteralLike(first) &&
        FILE_OPENING_MODULES.has(first.text)
      )
        report(node, `import ${first.text}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return findings;
}

interface Allowed {
  /** Why this module can never touch a source: one line a reviewer can check. */
  reason: string;
  /** Exactly the APIs it may use, as reported by findFileAccess. */
  apis: string[];
}

/**
 * Modules other than source-reader that may touch files, because every path they touch is under the
 * Archivist home (or is a temp file of their own). Keep it short and exact: each entry names the APIs it
 * uses; an entry that is no longer needed fails the test too.
 */
const ALLOWLIST: Record<string, Allowed> = {
  'src/home/home.ts': {
    reason: 'creates the home folders and writes/reads <home>/config.json; removes a half-made new home',
    apis: ['fs.mkdirSync', 'fs.writeFileSync', 'fs.readFileSync', 'fs.rmSync'],
  },
  'src/home/known-homes.ts': {
    reason:
      "reads and replaces the user's registry of homes (~/.local/state/archivist/homes.json), never a source",
    apis: ['fs.readFileSync', 'fs.mkdirSync', 'fs.writeFileSync', 'fs.renameSync'],
  },
  'src/home/inspect-home.ts': {
    reason: 'doctor: reads <home>/config.json',
    apis: ['fs.readFileSync'],
  },
  'src/store/sqlite/sqlite-database.ts': {
    reason: 'opens <home>/archivist.db (SQLite) and reads its 100-byte header',
    apis: ['import better-sqlite3', 'fs.openSync'],
  },
  'src/runs/worker-host.ts': {
    reason:
      "a worker host's own folders (<store>/.tmp/<host>, <state>/logs) and its optional <state>/config.json",
    apis: ['fs.mkdirSync', 'fs.readFileSync'],
  },
  'src/artifacts/store-identity.ts': {
    reason: "reads and writes the artifact store's id file, <home>/artifacts/.archivist-store-id",
    apis: ['fs.readFileSync', 'fs.writeFileSync'],
  },
  'src/catalog/read-only-baseline.ts': {
    reason: 'verify-readonly: writes (temp, fsync, rename) and reads <home>/baselines/readonly-<source>.json',
    apis: ['fs.readFileSync', 'fs.mkdirSync', 'fs.openSync', 'fs.writeSync', 'fs.renameSync', 'fs.rmSync'],
  },
  'src/artifacts/artifact-capture-facts.ts': {
    reason:
      "reads a metadata artifact (the step's output file or <home>/artifacts/...) for its capture facts",
    apis: ['fs.readFileSync'],
  },
  'src/store/migrations/0011-asset-facts.ts': {
    reason: 'migration 0011 reads the current metadata artifacts in <home>/artifacts to fill asset_facts',
    apis: ['fs.readFileSync'],
  },
  'src/artifacts/artifact-store.ts': {
    reason: 'writes artifacts to <home>/tmp, fsyncs, renames them into <home>/artifacts; reads them back',
    apis: [
      'fs.open',
      'fs.writeFile',
      'fs.createReadStream',
      'fs.rename',
      'fs.mkdir',
      'fs.rm',
      'fs.readFileSync',
    ],
  },
  'src/pipeline/tools/version-cache.ts': {
    reason:
      'reads and replaces <home>/tool-versions.json, the versions of tools already asked; stats the tool binaries and system libraries it keys them by',
    apis: ['fs.readFileSync', 'fs.writeFileSync', 'fs.renameSync', 'fs.rmSync'],
  },
  'src/pipeline/tools/exiftool-tool.ts': {
    reason: 'reads the version line at the top of the exiftool script it runs (in node_modules or on PATH)',
    apis: ['fs.open'],
  },
  'src/artifacts/collect-garbage.ts': {
    reason: 'gc: deletes orphaned files found by listing <home>/artifacts and <home>/tmp',
    apis: ['fs.rmSync'],
  },
  'src/runs/process-state.ts': {
    reason: "reads /proc/<pid>/stat: a coordinator's zombie from a live process, a stopped worker",
    apis: ['fs.readFileSync'],
  },
  'src/runs/spawn-coordinator.ts': {
    reason: "opens <home>/logs/coordinator-<run>.log for a detached coordinator's output",
    apis: ['fs.openSync'],
  },
  'src/pipeline/steps/motion-video.ts': {
    reason:
      "writes a motion photo's embedded MP4 into the worker's scratch folder (<home>/tmp/work-<pid>/), removes it on failure",
    apis: ['fs.open', 'fs.rm'],
  },
  'src/store/migrations/0013-asset-relations.ts': {
    reason: 'reads metadata artifacts from <home>/artifacts to fill the relation index (as 0011 does)',
    apis: ['fs.readFileSync'],
  },
  'src/pipeline/tools/box-file-stand-in.ts': {
    reason:
      'creates (wx), writes and unlinks its own sparse file <home>/tmp/work-<pid>/stand-in-<pid>-<n>.<ext>, copied from an original through its descriptor',
    apis: ['fs.open', 'fs.unlink'],
  },
  'src/pipeline/tools/heif-tiles.ts': {
    reason:
      'creates (wx), writes and unlinks its own HEVC stream <home>/tmp/work-<pid>/tiles-<pid>-<n>.hevc, the coded tiles of a HEIF grid read from an original through its descriptor, for ffmpeg to decode',
    apis: ['fs.open', 'fs.unlink'],
  },
  'src/pipeline/tools/exiftool-input.ts': {
    reason:
      'makes named pipes <home>/tmp/work-<pid>/spare-fifo-<pid>-<n> ahead, renames one to original-<pid>-<n>.<ext> in the same folder, opens it for writing to feed exiftool an original (and for reading, to let that open go when exiftool never came), and unlinks it',
    apis: ['fs.open', 'fs.openSync', 'fs.unlink', 'fs.rename', 'fs.rmSync'],
  },
  'src/runs/scratch-dirs.ts': {
    reason: "creates and removes workers' scratch folders <home>/tmp/work-<pid>",
    apis: ['fs.mkdir', 'fs.rmSync'],
  },
  'src/artifacts/store-journal.ts': {
    reason:
      'appends to <home>/tmp/stored-<pid>.list, reads dead ones, unlinks row-less <home>/artifacts files',
    apis: ['fs.write', 'fs.openSync', 'fs.ftruncateSync', 'fs.readFileSync', 'fs.unlinkSync', 'fs.rmSync'],
  },
  'src/runs/disk-reserve.ts': {
    reason: "writes and removes a coordinator's space reserve <home>/tmp/reserve-<pid>",
    apis: ['fs.openSync', 'fs.writeSync', 'fs.rmSync'],
  },
};

const HOW_TO_FIX = [
  `Only ${READER} may open files under a source (PRODUCT section 1: originals are read-only).`,
  `- If this code reads a source file, use openSourceFile/hashSourceFile from ${READER} instead.`,
  '- If it only ever touches paths under the Archivist home (database, artifact store, config, logs,',
  '  baselines) or its own temp files, add it to ALLOWLIST in test/unit/read-only-guard.test.ts with',
  '  exactly the APIs it uses and a one-line reason a reviewer can check.',
].join('\n');

function sourceFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const abs = path.join(dir, entry.name);
      if (entry.isDirectory()) return sourceFiles(abs);
      return /\.(ts|mts|cts|tsx)$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [abs] : [];
    })
    .sort();
}

describe('read-only guard, static: who may touch files', () => {
  const files = sourceFiles(path.join(REPO_ROOT, 'src')).map((abs) =>
    path.relative(REPO_ROOT, abs).split(path.sep).join('/'),
  );
  const findings = files.flatMap((rel) =>
    findFileAccess(rel, fs.readFileSync(path.join(REPO_ROOT, rel), 'utf8')),
  );
  const byFile = new Map<string, Finding[]>();
  for (const finding of findings) byFile.set(finding.file, [...(byFile.get(finding.file) ?? []), finding]);

  it('finds what it is looking for (the scanner itself works)', () => {
    const cases: [string, string[]][] = [
      ["import fs from 'node:fs'; fs.openSync('x', 'r');", ['fs.openSync']],
      ["import * as fs from 'fs'; await fs.promises.rm('x');", ['fs.rm']],
      ["import fsp from 'node:fs/promises'; await fsp.writeFile('x', '');", ['fs.writeFile']],
      ["import { promises as p } from 'node:fs'; await p.open('x');", ['fs.open']],
      [
        "import { writeFile as w, readdir } from 'node:fs/promises'; await w('x', ''); await readdir('.');",
        ["import { writeFile } from 'node:fs/promises'"],
      ],
      ["import fs from 'node:fs'; const { createReadStream, statSync } = fs;", ['fs.createReadStream']],
      [
        "import fs from 'node:fs'; const p = fs.promises; const q = p; await q.utimes('x', 1, 1);",
        ['fs.utimes'],
      ],
      ["import fs from 'node:fs'; fs['chmodSync']('x', 0);", ['fs.chmodSync']],
      ["const fs = await import('node:fs');", ['dynamic fs access']],
      ["import Database from 'better-sqlite3'; new Database('x');", ['import better-sqlite3']],
      // Allowed everywhere: listing and stat'ing (the walker), and types.
      [
        "import fs from 'node:fs'; import type { Stats } from 'node:fs'; fs.readdirSync('.'); await fs.promises.lstat('x'); fs.realpathSync('.'); await fs.promises.opendir('.'); await fs.promises.readlink('x'); fs.statfsSync('.');",
        [],
      ],
      ["import type BetterSqlite3 from 'better-sqlite3'; let db: BetterSqlite3.Database;", []],
    ];
    for (const [code, expected] of cases) {
      expect(
        findFileAccess('case.ts', code).map((f) => f.api),
        code,
      ).toEqual(expected);
    }
  });

  it('scans the real sources, and sees the reader open files', () => {
    expect(files.length).toBeGreaterThan(10);
    expect(files).toContain(READER);
    expect((byFile.get(READER) ?? []).map((f) => f.api)).toContain('fs.open');
  });

  it(`lets no module other than ${READER} open or write files, unless allowlisted`, () => {
    const problems: string[] = [];
    for (const [file, found] of byFile) {
      if (file === READER) continue;
      const allowed = ALLOWLIST[file];
      for (const finding of found) {
        if (!allowed) {
          problems.push(`${file}:${finding.line} uses ${finding.api}, and ${file} is not in ALLOWLIST.`);
        } else if (!allowed.apis.includes(finding.api)) {
          problems.push(
            `${file}:${finding.line} uses ${finding.api}, which its ALLOWLIST entry ("${allowed.reason}") does not list.`,
          );
        }
      }
    }
    expect(problems, `${problems.join('\n')}\n\n${HOW_TO_FIX}`).toEqual([]);
  });

  it('keeps the allowlist exact: every entry exists and uses every API it lists', () => {
    const stale: string[] = [];
    for (const [file, allowed] of Object.entries(ALLOWLIST)) {
      expect(allowed.reason.length, `${file}: give a reason`).toBeGreaterThan(10);
      if (!files.includes(file)) {
        stale.push(`${file} is in ALLOWLIST but does not exist: remove the entry.`);
        continue;
      }
      const used = new Set((byFile.get(file) ?? []).map((f) => f.api));
      for (const api of allowed.apis) {
        if (!used.has(api)) stale.push(`${file} no longer uses ${api}: remove it from its ALLOWLIST entry.`);
      }
    }
    expect(stale, stale.join('\n')).toEqual([]);
  });
});

describe('read-only guard, at run time: source-reader', () => {
  let dir: string;
  let cleanup: () => void;
  beforeAll(() => {
    ({ dir, cleanup } = tempDir('archivist-reader-'));
  });
  afterAll(() => cleanup());

  /** The `flags:` line of /proc/self/fdinfo/<fd>, in octal as the kernel prints it. */
  function fdFlags(fd: number): number {
    const info = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    const match = /^flags:\s+([0-7]+)$/m.exec(info);
    if (!match) throw new Error(`no flags in fdinfo: ${info}`);
    return parseInt(match[1]!, 8);
  }

  it.skipIf(process.platform !== 'linux')(
    'opens O_RDONLY, with O_NOATIME when the process owns the file',
    async () => {
      const file = path.join(dir, 'photo.jpg');
      fs.writeFileSync(file, 'pretend JPEG');
      const handle = await openSourceFile(file);
      try {
        const flags = fdFlags(handle.fd);
        const O_ACCMODE = 0o3;
        expect(flags & O_ACCMODE, 'access mode must be O_RDONLY').toBe(fs.constants.O_RDONLY);
        expect(flags & fs.constants.O_APPEND).toBe(0);
        // We own the file (or are root), so the kernel allows O_NOATIME: reading leaves atime alone.
        expect(fs.statSync(file).uid === process.getuid!() || process.getuid!() === 0).toBe(true);
        expect(flags & fs.constants.O_NOATIME, 'O_NOATIME must be set').toBe(fs.constants.O_NOATIME);
        // And writing through it is refused by the kernel.
        await expect(handle.write('x')).rejects.toMatchObject({ code: 'EBADF' });
      } finally {
        await handle.close();
      }
    },
  );

  it('hashes with SHA-256 in one read-only pass, leaving atime, mtime and content alone', async () => {
    const file = path.join(dir, 'big.bin');
    const data = randomBytes(2 * 1024 * 1024 + 12345); // more than one read chunk
    fs.writeFileSync(file, data);
    const old = new Date('2001-02-03T04:05:06Z');
    fs.utimesSync(file, old, old); // an atime not after mtime: relatime would update it on a plain read
    const before = fs.statSync(file, { bigint: true });

    const hashed = await hashSourceFile(file);
    expect(hashed.sha256).toBe(createHash('sha256').update(data).digest('hex'));
    expect(hashed.size).toBe(data.length);
    expect(hashed.head.equals(data.subarray(0, HEAD_BYTES))).toBe(true);

    const after = fs.statSync(file, { bigint: true });
    expect(after.mtimeNs).toBe(before.mtimeNs);
    expect(after.ctimeNs).toBe(before.ctimeNs);
    if (process.platform === 'linux') expect(after.atimeNs).toBe(before.atimeNs);
    expect(fs.readFileSync(file).equals(data)).toBe(true);

    const empty = path.join(dir, 'empty.bin');
    fs.writeFileSync(empty, '');
    expect(await hashSourceFile(empty)).toMatchObject({
      sha256: createHash('sha256').digest('hex'),
      size: 0,
    });
  });

  it.skipIf(process.platform === 'win32')(
    'refuses a FIFO as not-a-regular-file instead of waiting for a writer',
    async () => {
      const fifo = path.join(dir, 'pipe');
      execFileSync('mkfifo', [fifo]);
      // No writer ever opens this FIFO: a blocking open or read would hang this test until its timeout.
      const error = await hashSourceFile(fifo).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SourceReadError);
      expect((error as SourceReadError).reason).toBe('not-a-regular-file');
      await expect(openSourceFile(fifo)).rejects.toMatchObject({ reason: 'not-a-regular-file' });
    },
    20_000,
  );

  it('refuses a symlink (O_NOFOLLOW), even one to a regular file, and a directory', async () => {
    const target = path.join(dir, 'target.jpg');
    fs.writeFileSync(target, 'content');
    const link = path.join(dir, 'link.jpg');
    fs.symlinkSync(target, link);
    await expect(hashSourceFile(link)).rejects.toMatchObject({ reason: 'not-a-regular-file' });
    await expect(openSourceFile(link)).rejects.toMatchObject({ reason: 'not-a-regular-file' });
    const folder = path.join(dir, 'folder');
    fs.mkdirSync(folder);
    await expect(hashSourceFile(folder)).rejects.toMatchObject({ reason: 'not-a-regular-file' });
    await expect(hashSourceFile(path.join(dir, 'nope'))).rejects.toMatchObject({ reason: 'not-found' });
  });
});
