import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import sharp from 'sharp';
import { archiveManifest, type ManifestEntry } from '../../helpers/archive-manifest.js';
import { CLI, REPO_ROOT, runCliJson, tempDir } from '../../helpers/cli.js';
import { queryDatabase } from '../../helpers/db-query.js';
import { homeDatabase, SQLITE, type TestDialect } from '../../helpers/postgres.js';

/**
 * The web UI's end-to-end harness (issue 5): a demo archive (the media of test/fixtures laid out as
 * scripts/demo.sh does, plus generated photos and a corrupt JPEG) cataloged into a temporary home, the
 * built `archivist serve` as a child process on a free port, and Debian's Chromium driven by
 * playwright-core with a fresh profile. Nothing waits a fixed time for a state: `until` polls.
 */

export const CHROMIUM = '/usr/bin/chromium';
export const WEB_PIPELINES = path.join(REPO_ROOT, 'test', 'e2e', 'web', 'web-pipelines.mjs');
/**
 * The README's screenshots are rewritten only on request (`npm run screenshots`): an ordinary test run
 * still takes them, into a temporary folder, so a test run never leaves the working tree changed.
 */
export const SCREENSHOTS =
  process.env.ARCHIVIST_UPDATE_SCREENSHOTS === '1'
    ? path.join(REPO_ROOT, 'docs', 'screenshots')
    : path.join(process.env.ARCHIVIST_TEST_SHARED_DIR ?? os.tmpdir(), 'archivist-test-screenshots');
export const WAIT_MS = 60_000;

/** Polls `probe` until it returns something truthy; fails after `ms` with `what` and the last value. */
export async function until<T>(
  probe: () => Promise<T> | T,
  what: string,
  ms = WAIT_MS,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await probe();
    if (last) return last;
    await sleep(100);
  }
  throw new Error(`gave up waiting for ${what} after ${ms / 1000} s (last: ${JSON.stringify(last)})`);
}

/** Camera EXIF for a generated photo: spread over the years and months, as a real archive is. */
function cameraExif(seed: number) {
  // Four photos a month, a month a year: a grid by time with several pictures under each header.
  const group = Math.floor(seed / 4);
  const year = 2016 + (group % 8);
  const month = 1 + ((group * 5) % 12);
  const day = 1 + ((seed * 11) % 28);
  const stamp = `${year}:${String(month).padStart(2, '0')}:${String(day).padStart(2, '0')} ${String(8 + (seed % 12)).padStart(2, '0')}:${String((seed * 7) % 60).padStart(2, '0')}:05`;
  const [make, model, lens] =
    seed % 2 === 0 ? ['FUJIFILM', 'X-T30', 'XF23mmF2 R WR'] : ['SONY', 'ILCE-7M3', 'FE 35mm F1.8'];
  return {
    IFD0: { Make: make, Model: model, DateTime: stamp },
    IFD2: {
      DateTimeOriginal: stamp,
      OffsetTimeOriginal: '+02:00',
      ExposureTime: `1/${[60, 125, 250, 887, 1000][seed % 5]}`,
      FNumber: `${[18, 28, 40, 56, 80][seed % 5]}/10`,
      FocalLength: '23/1',
      ISOSpeedRatings: String([100, 200, 400, 800][seed % 4]),
      LensModel: lens,
    },
    IFD3: {
      GPSLatitudeRef: 'N',
      GPSLatitude: `46/1 ${30 + (seed % 20)}/1 1234/100`,
      GPSLongitudeRef: 'E',
      GPSLongitude: `7/1 ${40 + (seed % 18)}/1 5678/100`,
    },
  };
}

/** A landscape-like picture, different for every seed, as a real JPEG with a camera's EXIF. */
function landscape(seed: number, exif = true): Promise<Buffer> {
  const hue = (seed * 47) % 360;
  const sun = 60 + ((seed * 53) % 200);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="480" height="320">
    <defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="hsl(${hue},60%,45%)"/><stop offset="1" stop-color="hsl(${(hue + 40) % 360},70%,80%)"/>
    </linearGradient></defs>
    <rect width="480" height="320" fill="url(#sky)"/>
    <circle cx="${sun}" cy="${70 + (seed % 5) * 12}" r="${26 + (seed % 4) * 6}" fill="hsl(${(hue + 180) % 360},90%,85%)"/>
    <path d="M0 ${230 - (seed % 6) * 10} Q120 ${150 + (seed % 7) * 8} 240 220 T480 ${190 + (seed % 3) * 15} V320 H0Z" fill="hsl(${(hue + 100) % 360},35%,30%)"/>
    <path d="M0 280 Q160 ${240 + (seed % 5) * 6} 320 270 T480 260 V320 H0Z" fill="hsl(${(hue + 120) % 360},30%,20%)"/>
  </svg>`;
  const jpeg = sharp(Buffer.from(svg)).jpeg({ quality: 85 });
  return (exif ? jpeg.withExif(cameraExif(seed)) : jpeg).toBuffer();
}

/** The demo archive of scripts/demo.sh, plus `generated` photos and a corrupt JPEG. */
export async function layOutArchive(archive: string, generated: number): Promise<void> {
  const media = path.join(REPO_ROOT, 'test', 'fixtures', 'media');
  const copies: [string, string][] = [
    ['jpg/Canon_40D.jpg', '2004/canon/IMG_0001.JPG'],
    ['jpg/Nikon_D70.jpg', '2008/nikon/DSC_0042.jpg'],
    ['jpg/gps/DSCN0010.jpg', '2012/holiday/DSCN0010.jpg'],
    ['jpg/gps/DSCN0010.jpg', '2012/holiday/DSCN0010 (copy).jpg'],
    ['jpg/orientation/portrait_6.jpg', '2012/holiday/portrait.jpg'],
    ['jpg/orientation/landscape_3.jpg', '2012/holiday/upside-down.jpg'],
    ['heic/samplefilehub.heif', '2021/phone/IMG_1234.HEIC'],
    ['videos/portrait_hevc.mov', '2021/phone/IMG_1235.MOV'],
    ['videos/landscape_h264.mp4', '2021/phone/VID_20210704.mp4'],
    ['tiff/Arbitro.tiff', 'scans/scan-001.tiff'],
    ['jpg/invalid/image01551.jpg', 'broken/image01551.jpg'],
    ['videos/damaged_truncated.mp4', 'broken/truncated.mp4'],
  ];
  for (const [from, to] of copies) {
    fs.mkdirSync(path.dirname(path.join(archive, to)), { recursive: true });
    fs.copyFileSync(path.join(media, from), path.join(archive, to));
  }
  // A JPEG that starts well and then is garbage: the decoder fails it, with a reason.
  const good = await landscape(999, false);
  fs.writeFileSync(
    path.join(archive, 'broken', 'corrupt.jpg'),
    Buffer.concat([good.subarray(0, 600), Buffer.alloc(400, 0x5a)]),
  );
  fs.mkdirSync(path.join(archive, '2023', 'trip'), { recursive: true });
  for (let i = 0; i < generated; i++) {
    fs.writeFileSync(path.join(archive, '2023', 'trip', `IMG_${String(2000 + i)}.jpg`), await landscape(i));
  }
}

export interface WebFixture {
  root: string;
  archive: string;
  home: string;
  url: string;
  context: BrowserContext;
  page: Page;
  manifest: ManifestEntry[];
  /** Console reports of anything the Content-Security-Policy blocked. */
  cspViolations: string[];
  api<T>(pathname: string): Promise<T>;
  post<T>(pathname: string, body?: unknown): Promise<T>;
  screenshot(name: string): Promise<void>;
  close(): Promise<void>;
}

export function startServe(home: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [CLI, '--home', home, 'serve', '--port', '0'], {
    cwd: REPO_ROOT,
    env: { ...process.env, ARCHIVIST_HOME: '', ARCHIVIST_PIPELINE_MODULES: WEB_PIPELINES },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`serve did not start within ${WAIT_MS / 1000} s:\n${out}`)),
      WAIT_MS,
    );
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const match = /serving (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1]! });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited ${code}:\n${out}`));
    });
  });
}

/** True while `pid` is a live process working on `home` (a recycled pid belongs to someone else). */
function ours(pid: number, home: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(home);
  } catch {
    return false;
  }
}

/**
 * `layOut` makes the archive instead of the demo layout (a synthetic archive of many files); `dialect` is
 * the home's truth store (SQLite in the home unless told).
 */
export async function createWebFixture(options: {
  generated: number;
  layOut?: (archive: string) => Promise<void>;
  dialect?: TestDialect;
}): Promise<WebFixture> {
  for (const [file, fix] of [
    [CHROMIUM, 'apt-get install chromium'],
    [CLI, 'npm run build'],
    [path.join(REPO_ROOT, 'dist', 'web', 'index.html'), 'npm run build'],
  ] as const) {
    if (!fs.existsSync(file)) throw new Error(`${file} is missing: ${fix}`);
  }
  const { dir: root, cleanup } = tempDir('archivist-web-');
  const archive = path.join(root, 'archive');
  const home = path.join(root, 'home');
  await (options.layOut ?? ((dir: string) => layOutArchive(dir, options.generated)))(archive);
  const manifest = archiveManifest(archive);
  const cli = <T>(args: string[]) => runCliJson<T>(args, { home });
  const { initArgs, database } = await homeDatabase(options.dialect ?? SQLITE, home);
  await cli(['init', ...initArgs]);
  await cli(['source', 'add', 'demo', archive]);
  await cli(['catalog']);
  await cli(['collection', 'create', 'everything']);

  const { child, url } = await startServe(home);
  const context = await chromium.launchPersistentContext(path.join(root, 'chromium-profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
    viewport: { width: 1600, height: 1100 },
    baseURL: url,
  });
  context.setDefaultTimeout(WAIT_MS);
  const page = context.pages()[0] ?? (await context.newPage());
  // Anything the page's CSP blocked: the UI must work under its own policy (no inline script or style).
  const cspViolations: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
  });

  const api = async <T>(pathname: string): Promise<T> => {
    const response = await fetch(`${url}${pathname}`);
    if (!response.ok) throw new Error(`GET ${pathname}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };
  const post = async <T>(pathname: string, body: unknown = {}): Promise<T> => {
    const response = await fetch(`${url}${pathname}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-archivist-request': '1' },
      body: JSON.stringify(body),
    });
    return (await response.json()) as T;
  };

  return {
    root,
    archive,
    home,
    url,
    context,
    page,
    manifest,
    cspViolations,
    api,
    post,
    async screenshot(name) {
      fs.mkdirSync(SCREENSHOTS, { recursive: true });
      await page.screenshot({ path: path.join(SCREENSHOTS, name) });
    },
    async close() {
      await context.close().catch(() => undefined);
      // Runs started from the UI have coordinators of their own: stop them, through the API, and wait.
      try {
        const { activeRuns } = await api<{ activeRuns: string[] }>('/api/status');
        for (const id of activeRuns) await post(`/api/runs/${id}/cancel`);
        await until(
          async () => (await api<{ activeRuns: string[] }>('/api/status')).activeRuns.length === 0,
          'runs to stop',
        );
      } catch {
        // the server may be gone already; the pids below are the last resort
      }
      child.kill('SIGTERM');
      if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
      const pids = queryDatabase<{ pid: number }>(
        database,
        'select coordinator_pid as pid from runs where coordinator_pid is not null',
      );
      for (const { pid } of pids) if (ours(pid, home)) process.kill(pid, 'SIGKILL');
      cleanup();
    },
  };
}
