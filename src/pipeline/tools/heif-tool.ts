import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { messageOf, ToolError } from './tool.js';

/**
 * The HEIC/HEIF fallback: libheif compiled to WebAssembly (`heic-decode` over `libheif-js`), for the
 * HEVC-coded pictures phones take, which the libvips inside the npm `sharp` cannot decode (it is built
 * with AV1 only). No native code and no download at install time.
 *
 * The decode runs in a worker thread made for it: it is synchronous WebAssembly, so only terminating the
 * thread can stop it on cancel or timeout, and terminating it also hands back the WebAssembly memory
 * (hundreds of MB for a 12-megapixel picture) instead of keeping it for the life of the worker process.
 */

const require = createRequire(import.meta.url);

/** Files larger than this are not HEIC photos: refuse them rather than load them into memory. */
export const MAX_HEIF_BYTES = 256 * 1024 * 1024;

let version: string | null | undefined;

/** "libheif-js 1.23.2", or null when the decoder is not installed. */
export function heifDecoderVersion(): string | null {
  if (version === undefined) {
    try {
      require.resolve('heic-decode');
      version = `libheif-js ${(require('libheif-js/package.json') as { version: string }).version}`;
    } catch {
      version = null;
    }
  }
  return version;
}

export interface DecodedPicture {
  data: Buffer;
  width: number;
  height: number;
  channels: 4;
}

/**
 * The thread's code, as CommonJS text: a separate file would need a build step of its own, and this way
 * the same code runs from the TypeScript sources in tests and from dist/ in production.
 */
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const decode = require(workerData.decoder);
parentPort.once('message', async (input) => {
  try {
    const image = await decode({ buffer: new Uint8Array(input) });
    const data = image.data;
    parentPort.postMessage({ ok: true, width: image.width, height: image.height, data: data.buffer },
      [data.buffer]);
  } catch (error) {
    parentPort.postMessage({ ok: false, message: String(error && error.message || error) });
  }
});
`;

interface ThreadAnswer {
  ok: boolean;
  width?: number;
  height?: number;
  data?: ArrayBuffer;
  message?: string;
}

/**
 * Decodes the primary picture of a HEIF file to RGBA. libheif applies the file's own transformations
 * (`irot`, `imir`, crop), so the pixels come out upright: the EXIF orientation must not be applied again.
 */
export async function decodeHeif(content: Buffer, signal: AbortSignal): Promise<DecodedPicture> {
  let decoder: string;
  try {
    decoder = require.resolve('heic-decode');
  } catch (error) {
    throw new ToolError('libheif', 'missing', 'the HEIC decoder (heic-decode) is not installed', {
      cause: error,
    });
  }
  if (content.length > MAX_HEIF_BYTES) {
    throw new ToolError(
      'libheif',
      'failed',
      `libheif: ${content.length} bytes is too large for a HEIF picture`,
    );
  }
  const bytes = transferable(content);
  if (signal.aborted) throw new ToolError('libheif', 'aborted', 'libheif: aborted');

  const thread = new Worker(THREAD_SOURCE, { eval: true, workerData: { decoder } });
  try {
    const answer = await new Promise<ThreadAnswer>((resolve, reject) => {
      const onAbort = () => reject(new ToolError('libheif', 'aborted', 'libheif: aborted'));
      signal.addEventListener('abort', onAbort, { once: true });
      thread.once('message', (message: ThreadAnswer) => {
        signal.removeEventListener('abort', onAbort);
        resolve(message);
      });
      thread.once('error', (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(new ToolError('libheif', 'failed', `libheif: ${messageOf(error)}`, { cause: error }));
      });
      // A thread that dies without answering (out of WebAssembly memory) must not leave us waiting.
      thread.once('exit', (code) => {
        signal.removeEventListener('abort', onAbort);
        reject(new ToolError('libheif', 'failed', `libheif: the decoder thread stopped (exit code ${code})`));
      });
      thread.postMessage(bytes, [bytes]);
    });
    if (!answer.ok || !answer.data || !answer.width || !answer.height) {
      throw new ToolError('libheif', 'failed', `libheif: ${answer.message ?? 'no picture decoded'}`);
    }
    return { data: Buffer.from(answer.data), width: answer.width, height: answer.height, channels: 4 };
  } finally {
    await thread.terminate();
  }
}

/** An ArrayBuffer of the content's own: Node pools small buffers, and a pooled one cannot be transferred. */
function transferable(content: Buffer): ArrayBuffer {
  if (
    content.byteOffset === 0 &&
    content.buffer.byteLength === content.length &&
    content.buffer instanceof ArrayBuffer
  )
    return content.buffer;
  const copy = new ArrayBuffer(content.length);
  new Uint8Array(copy).set(content);
  return copy;
}
