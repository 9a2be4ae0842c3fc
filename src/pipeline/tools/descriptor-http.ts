import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';

const fstat = promisify(fs.fstat);
const read = promisify(fs.read);
const CHUNK = 256 * 1024;

/**
 * Bytes start..end (inclusive) by positional reads (pread) through the descriptor: its offset and flags
 * stay as they are, and it stays open for the step that owns it (fs read streams close what they read).
 */
async function* positionalReads(fd: number, start: number, end: number): AsyncGenerator<Buffer> {
  for (let position = start; position <= end;) {
    const buffer = Buffer.allocUnsafe(Math.min(CHUNK, end - position + 1));
    const { bytesRead } = await read(fd, buffer, 0, buffer.length, position);
    if (bytesRead === 0) return;
    position += bytesRead;
    yield buffer.subarray(0, bytesRead);
  }
}

/**
 * An original's open descriptor served to one ffmpeg/ffprobe child over loopback HTTP, with byte ranges.
 *
 * Why not the descriptor itself: ffmpeg 5.1 reads an inherited descriptor only through `pipe:`, which
 * cannot seek (an MP4 or MOV with its index after the media data cannot be read), and a path to it
 * (`/proc/self/fd/0`) is opened anew by ffmpeg, as a new open file without our O_NOATIME: the kernel
 * then records an access on the original (always under `strictatime`, daily or when atime <= mtime
 * under `relatime`). Here every byte ffmpeg reads is read by this process, through the descriptor the
 * source reader opened (O_NOATIME where allowed, O_NOFOLLOW, checked against the catalog), and ffmpeg
 * seeks with `Range` requests.
 *
 * Only 127.0.0.1, only while the one tool runs, and only at a path of 128 random bits: another local
 * user cannot guess it, and a browser page cannot read the answer (no CORS header).
 */
export interface ServedDescriptor {
  url: string;
  close: () => Promise<void>;
}

export async function serveDescriptor(fd: number): Promise<ServedDescriptor> {
  const size = (await fstat(fd)).size;
  const secret = `/${randomBytes(16).toString('hex')}`;
  const server = http.createServer((request, response) => {
    if (request.url !== secret || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404).end();
      return;
    }
    const range = rangeOf(request.headers.range, size);
    if (range === 'unsatisfiable') {
      response.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
      return;
    }
    const [start, end] = range ?? [0, size - 1];
    const headers = {
      'Accept-Ranges': 'bytes',
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(Math.max(0, end - start + 1)),
      ...(range ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {}),
    };
    response.writeHead(range ? 206 : 200, headers);
    if (request.method === 'HEAD' || end < start) {
      response.end();
      return;
    }
    // ffmpeg closes a connection when it seeks elsewhere: the read stops, nothing else is wrong.
    pipeline(Readable.from(positionalReads(fd, start, end)), response).catch(() => undefined);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${secret}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** `bytes=a-b`, `bytes=a-` or `bytes=-n` (one range: ffmpeg asks no more), clipped to the file. */
function rangeOf(header: string | undefined, size: number): [number, number] | 'unsatisfiable' | null {
  if (!header) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return null;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    return suffix === 0 ? 'unsatisfiable' : [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(match[1]);
  if (start >= size) return size === 0 && start === 0 ? [0, -1] : 'unsatisfiable';
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  return end < start ? 'unsatisfiable' : [start, end];
}
