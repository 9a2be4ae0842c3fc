import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StepOutcome } from '../../../src/pipeline/step.js';
import { metadataStep } from '../../../src/pipeline/steps/metadata.js';
import { thumbnailStep } from '../../../src/pipeline/steps/thumbnail.js';
import { confinedArgs } from '../../../src/pipeline/tools/ff-confinement.js';
import { endTools } from '../../../src/pipeline/tools/lifecycle.js';
import type { MediaType } from '../../../src/store/schema.js';
import { tempDir } from '../../helpers/cli.js';
import { context, ffmpeg, fixture, THUMBNAIL_DEFAULTS } from './media-helpers.js';

/**
 * Originals whose content makes ffmpeg follow references (issue 14, hostile input): an HLS playlist, a
 * DASH manifest and an ffconcat list, each under a camera-like name (ffmpeg picks its demuxer by
 * content). Each names a URL on a port this test listens on and a local file outside the archive. The
 * steps read them over the loopback server of the original (descriptor-http.ts), as a worker does.
 * Asserted: the listener never gets a connection, the local file (a FIFO, so that any open of it is
 * seen) is never opened, and the thumbnail item fails as `unsupported-format` naming the kind of file.
 */

let dir: string;
let cleanup: () => void;
let spy: net.Server;
let spyPort: number;
const contacts: string[] = [];
/** A FIFO outside the archive: its open for writing resolves only when someone opens it to read. */
let secret: string;
let secretOpened = false;
let secretWriter: Promise<fs.promises.FileHandle>;

beforeAll(async () => {
  ({ dir, cleanup } = tempDir('archivist-hostile-'));
  spy = net.createServer((socket) => {
    contacts.push(`${socket.remoteAddress}:${socket.remotePort}`);
    socket.destroy();
  });
  await new Promise<void>((resolve) => spy.listen(0, '127.0.0.1', () => resolve()));
  spyPort = (spy.address() as net.AddressInfo).port;
  secret = path.join(dir, 'outside', 'secret.ts');
  fs.mkdirSync(path.dirname(secret));
  execFileSync('mkfifo', [secret]);
  secretWriter = fs.promises.open(secret, 'w');
  void secretWriter.then(() => (secretOpened = true));
});

afterAll(async () => {
  // Releases the writer still waiting for a reader (the expected case), then closes both ends.
  const reader = fs.openSync(secret, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  await (await secretWriter).close();
  fs.closeSync(reader);
  await new Promise<void>((resolve) => spy.close(() => resolve()));
  await endTools();
  cleanup();
});

const spyUrl = (name: string) => `http://127.0.0.1:${spyPort}/${name}`;

const HOSTILE: Record<string, { file: string; mediaType: MediaType; kind: string; content: () => string }> = {
  'an HLS playlist renamed .mp4': {
    file: 'holiday.mp4',
    mediaType: 'video',
    kind: 'hls',
    content: () =>
      [
        '#EXTM3U',
        '#EXT-X-TARGETDURATION:10',
        '#EXT-X-MEDIA-SEQUENCE:0',
        `#EXT-X-KEY:METHOD=AES-128,URI="${spyUrl('key')}"`,
        '#EXTINF:10,',
        spyUrl('segment0.ts'),
        '#EXTINF:10,',
        `file:${secret}`,
        '#EXTINF:10,',
        secret,
        '#EXT-X-ENDLIST',
        '',
      ].join('\n'),
  },
  'an HLS playlist named .bmp (the ffmpeg still fallback)': {
    file: 'scan.bmp',
    mediaType: 'image',
    kind: 'hls',
    content: () =>
      ['#EXTM3U', '#EXT-X-TARGETDURATION:10', '#EXTINF:10,', spyUrl('still.ts'), '#EXT-X-ENDLIST', ''].join(
        '\n',
      ),
  },
  'a DASH manifest renamed .mov': {
    file: 'clip.mov',
    mediaType: 'video',
    kind: 'dash',
    content: () =>
      [
        '<?xml version="1.0"?>',
        '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-on-demand:2011" type="static" mediaPresentationDuration="PT2S" minBufferTime="PT1S">',
        '<Period><AdaptationSet mimeType="video/mp4"><Representation id="1" bandwidth="1000" codecs="avc1.4d401e" width="64" height="64">',
        `<BaseURL>${spyUrl('segment.mp4')}</BaseURL>`,
        '</Representation></AdaptationSet></Period></MPD>',
        '',
      ].join('\n'),
  },
  'an ffconcat list renamed .mkv': {
    file: 'clip.mkv',
    mediaType: 'video',
    kind: 'concat',
    content: () =>
      ['ffconcat version 1.0', `file '${secret}'`, `file '${spyUrl('part.mkv')}'`, 'file part2.mkv', ''].join(
        '\n',
      ),
  },
};

function failure(outcome: StepOutcome): { reason: string; message: string } | null {
  return outcome.status === 'failed' ? { reason: outcome.reason, message: outcome.message } : null;
}

describe('a file that names other files or URLs is read as itself only', () => {
  it.each(Object.entries(HOSTILE))('%s', async (_name, hostile) => {
    const file = path.join(dir, hostile.file);
    fs.writeFileSync(file, hostile.content());

    const thumb = await thumbnailStep.run(context(file, hostile.mediaType, THUMBNAIL_DEFAULTS));
    // The metadata item reads the file through exiftool and (for a video) ffprobe: whatever it ends
    // as, ffprobe followed nothing either.
    const metadata = await metadataStep.run(context(file, hostile.mediaType, {}));
    expect(contacts, 'the test listener must never be contacted').toEqual([]);
    expect(secretOpened, 'the local file outside the archive must never be opened').toBe(false);

    expect(thumb).toMatchObject({ status: 'failed', reason: 'unsupported-format' });
    // Not tried again: the file stays what it is (unsupported-format is not a retryable reason).
    expect(thumb.status === 'failed' && thumb.retryable).not.toBe(true);
    expect(failure(thumb)!.message).toMatch(
      new RegExp(`the file is of the ${hostile.kind} kind, which makes ffmpeg open the other files or URLs`),
    );
    expect(['done', 'failed']).toContain(metadata.status);
  });

  it('a real video next to them still makes its thumbnail (the limits let the original through)', async () => {
    const outcome = await thumbnailStep.run(
      context(fixture('videos/landscape_h264.mp4'), 'video', THUMBNAIL_DEFAULTS),
    );
    expect(outcome.status === 'done' && outcome.decoder).toMatch(/^ffmpeg \S+ frame at \d+\.\d s → sharp/);
  });

  it('a video that is a playlist of local files made by ffmpeg itself is refused as well', async () => {
    // A real HLS output (playlist + segment), the playlist renamed .mp4 and moved next to nothing it names.
    const hls = path.join(dir, 'real-hls');
    fs.mkdirSync(hls);
    await ffmpeg(
      '-f lavfi -i testsrc=size=64x64:rate=10 -t 1 -f hls -hls_list_size 0',
      path.join(hls, 'x.m3u8'),
    );
    const renamed = path.join(dir, 'real-hls.mp4');
    fs.writeFileSync(
      renamed,
      fs.readFileSync(path.join(hls, 'x.m3u8'), 'utf8').replace(/^x(\d+\.ts)$/gm, `file:${hls}/x$1`),
    );
    const outcome = await thumbnailStep.run(context(renamed, 'video', THUMBNAIL_DEFAULTS));
    expect(outcome).toMatchObject({ status: 'failed', reason: 'unsupported-format' });
    expect(failure(outcome)!.message).toMatch(/of the hls kind/);
  });
});

describe('every ffmpeg and ffprobe run is confined', () => {
  it('inserts the protocol and demuxer lists right before -i, by the kind of input', () => {
    const url = 'http://127.0.0.1:1234/abc';
    const args = confinedArgs(['-v', 'error', '-ss', '1', '-i', url, '-f', 'null', '-'], url);
    expect(args.slice(0, 4)).toEqual(['-v', 'error', '-ss', '1']);
    expect(args.slice(4, 6)).toEqual(['-protocol_whitelist', 'http,tcp']);
    expect(args[6]).toBe('-format_whitelist');
    expect(args[7]!.split(',')).toEqual(expect.arrayContaining(['mov', 'matroska', 'mpegts', 'asf', 'dv']));
    for (const follower of ['hls', 'dash', 'concat', 'imf', 'sdp', 'rtsp', 'mlv', 'image2'])
      expect(args[7]!.split(',')).not.toContain(follower);
    expect(args.slice(8)).toEqual(['-i', url, '-f', 'null', '-']);
    expect(confinedArgs(['-i', 'file:/x.mp4'], 'file:/x.mp4').slice(0, 2)).toEqual([
      '-protocol_whitelist',
      'file',
    ]);
  });

  it('refuses to run an input it cannot find after -i (unconfined)', () => {
    expect(() => confinedArgs(['/x.mp4'], '/x.mp4')).toThrow(/must be confined/);
  });
});
