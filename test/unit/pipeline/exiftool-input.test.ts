import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withOriginal } from '../../../src/catalog/original-file.js';
import { failureOf } from '../../../src/pipeline/steps/failures.js';
import { PIPE_MAX_BYTES, withFedPipe } from '../../../src/pipeline/tools/exiftool-input.js';
import { endExiftool, readTags } from '../../../src/pipeline/tools/exiftool-tool.js';
import { ToolError } from '../../../src/pipeline/tools/tool.js';
import { tempDir } from '../../helpers/cli.js';
import { fixture } from './media-helpers.js';

/**
 * exiftool reads an original through a pipe this process feeds (up to PIPE_MAX_BYTES) or, beyond, a
 * one-off exiftool with the descriptor as stdin (exiftool-input.ts): either way it must see what it sees
 * when it opens the file by name, its file-system tags must be the original's, and nothing may be left
 * in the scratch folder.
 */

let dir: string;
let cleanup: () => void;
let scratch: string;
const signal = new AbortController().signal;

beforeAll(() => {
  ({ dir, cleanup } = tempDir('archivist-exif-input-'));
  scratch = path.join(dir, 'scratch');
  fs.mkdirSync(scratch);
});
afterAll(async () => {
  await endExiftool();
  cleanup();
});

async function bothWays(file: string, scratchDir = scratch) {
  const byName = await readTags(file, signal);
  const stat = fs.statSync(file);
  const fed = await withOriginal(file, { size: stat.size }, (original) =>
    readTags({ original, scratchDir }, signal),
  );
  return { byName, fed };
}

/** This process's exiftool children (the shared long-lived one). */
function exiftoolChildren(): number[] {
  return fs
    .readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8')
    .trim()
    .split(/\s+/)
    .filter((pid) => pid !== '')
    .map(Number)
    .filter((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('exiftool'));
}

/** What a read left in the scratch folder, but the FIFOs made ahead for the next reads. */
const leftInScratch = (folder = scratch) =>
  fs.readdirSync(folder).filter((name) => !name.startsWith('spare-fifo-'));
const spareFifos = (folder: string) =>
  fs.readdirSync(folder).filter((name) => name.startsWith('spare-fifo-'));

const FILE_TAGS = ['File:FileName', 'File:Directory', 'File:FileSize', 'File:FileModifyDate'];

describe('exiftool reads an original without opening it by name', () => {
  it('a JPEG through the fed pipe: the same tags as by name, the pipe removed', async () => {
    const file = path.join(dir, 'camera.jpg');
    fs.copyFileSync(fixture('jpg/Canon_40D.jpg'), file);
    const { byName, fed } = await bothWays(file);
    expect(fed['EXIF:Make']).toBe('Canon');
    for (const tag of ['EXIF:Model', 'EXIF:DateTimeOriginal', 'File:ImageWidth', ...FILE_TAGS]) {
      expect(fed[tag], tag).toEqual(byName[tag]);
    }
    expect(fed.SourceFile).toBe(file);
    expect(leftInScratch()).toEqual([]);
  });

  it('takes each pipe from a batch made ahead (no mkfifo per file), and uses each for one read only', async () => {
    const file = path.join(dir, 'batch.jpg');
    fs.copyFileSync(fixture('jpg/Canon_40D.jpg'), file);
    // A scratch folder of its own: no pipe made ahead for it yet.
    const own = path.join(dir, 'scratch-batch');
    fs.mkdirSync(own);
    await bothWays(file, own);
    const made = spareFifos(own);
    expect(made.length).toBeGreaterThan(1);
    for (const name of made) expect(fs.statSync(path.join(own, name)).isFIFO(), name).toBe(true);
    await bothWays(file, own);
    // The next read took one of them: one fewer, none made, the one used gone.
    const after = spareFifos(own);
    expect(after.length).toBe(made.length - 1);
    expect(made).toEqual(expect.arrayContaining(after));
    expect(leftInScratch(own)).toEqual([]);
    // Emptied under the stash (as a clean-up of the folder would): the next read makes new ones.
    for (const name of after) fs.rmSync(path.join(own, name));
    await bothWays(file, own);
    expect(spareFifos(own).length).toBeGreaterThan(0);
  });

  it('the pipe carries the whole original to a reader, and a reader that never comes does not hold the read up', async () => {
    // 3 MB: many times the pipe's capacity, so the feed waits on its reader again and again.
    const file = path.join(dir, 'fed.bin');
    fs.writeFileSync(file, crypto.randomBytes(3 * 1024 * 1024));
    const size = fs.statSync(file).size;
    // A reader that reads to the end gets every byte, as exiftool reading a whole file would.
    const read = await withOriginal(file, { size }, (original) =>
      withFedPipe(original, scratch, (pipe) => fs.promises.readFile(pipe)),
    );
    expect(read.equals(fs.readFileSync(file))).toBe(true);
    // exiftool may answer without opening the pipe at all (a refused command): the feed waiting in its
    // open for a reader is let go, and nothing is left behind. Without that this read never ends.
    const answered = await withOriginal(file, { size }, (original) =>
      withFedPipe(original, scratch, () => Promise.resolve('answered')),
    );
    expect(answered).toBe('answered');
    expect(leftInScratch()).toEqual([]);
  });

  it('an MP4 with its index after the media data (ffmpeg, cameras): read where exiftool can seek', async () => {
    const file = path.join(dir, 'moov-last.mp4');
    await promisify(execFile)('ffmpeg', [
      ...['-v', 'error', '-i', fixture('videos/landscape_h264.mp4'), '-t', '2', '-c', 'copy'],
      ...['-metadata', 'title=index last', file],
    ]);
    const { byName, fed } = await bothWays(file);
    expect(fed['QuickTime:Title']).toBe('index last');
    for (const tag of ['QuickTime:Duration', 'QuickTime:ImageWidth', 'QuickTime:Title', ...FILE_TAGS]) {
      expect(fed[tag], tag).toEqual(byName[tag]);
    }
    expect(leftInScratch()).toEqual([]);
  });

  it(
    `a video over ${PIPE_MAX_BYTES / 1048576} MiB through a one-off exiftool reading the descriptor`,
    { timeout: 60_000 },
    async () => {
      const file = path.join(dir, 'long.mp4');
      fs.copyFileSync(fixture('videos/landscape_h264.mp4'), file);
      // A `free` box after the movie: a file as large as a long video, read as one by exiftool.
      const padding = PIPE_MAX_BYTES + 1024 * 1024;
      const header = Buffer.alloc(8);
      header.writeUInt32BE(padding, 0);
      header.write('free', 4, 'latin1');
      const fd = fs.openSync(file, 'a');
      fs.writeSync(fd, header);
      fs.ftruncateSync(fd, fs.fstatSync(fd).size + padding - 8);
      fs.closeSync(fd);
      const { byName, fed } = await bothWays(file);
      expect(fed['File:FileSize']).toBe(fs.statSync(file).size);
      for (const tag of ['QuickTime:Make', 'QuickTime:CreateDate', 'QuickTime:ImageWidth', ...FILE_TAGS]) {
        expect(fed[tag], tag).toEqual(byName[tag]);
      }
      expect(fed['QuickTime:Make']).toBeDefined();
      expect(leftInScratch()).toEqual([]);
    },
  );

  it(
    `an MP4 over ${PIPE_MAX_BYTES / 1048576} MiB with its index last: read from a sparse stand-in, the same tags`,
    { timeout: 60_000 },
    async () => {
      const small = path.join(dir, 'moov-last-small.mp4');
      await promisify(execFile)('ffmpeg', [
        ...['-v', 'error', '-i', fixture('videos/landscape_h264.mp4'), '-t', '2', '-c', 'copy'],
        ...['-metadata', 'title=long and index last', small],
      ]);
      // ftyp, then a media data box larger than the pipe's limit (a hole on disk), then the rest of the
      // file as ffmpeg wrote it (free, mdat, moov): exiftool must seek past 130 MiB to reach the index.
      const bytes = fs.readFileSync(small);
      const ftypSize = bytes.readUInt32BE(0);
      const padding = PIPE_MAX_BYTES + 2 * 1024 * 1024;
      const header = Buffer.alloc(8);
      header.writeUInt32BE(8 + padding, 0);
      header.write('mdat', 4, 'latin1');
      const file = path.join(dir, 'long-moov-last.mp4');
      const fd = fs.openSync(file, 'w');
      fs.writeSync(fd, bytes, 0, ftypSize, 0);
      fs.writeSync(fd, header, 0, 8, ftypSize);
      fs.writeSync(fd, bytes, ftypSize, bytes.length - ftypSize, ftypSize + 8 + padding);
      fs.closeSync(fd);
      const { byName, fed } = await bothWays(file);
      expect(fed['QuickTime:Title']).toBe('long and index last');
      expect(Object.keys(fed).length).toBeGreaterThan(30);
      // Every tag exiftool found by name, found the same in the stand-in (the File group is the original's).
      for (const [tag, value] of Object.entries(byName)) {
        if (tag === 'SourceFile' || tag.startsWith('File:')) continue;
        expect(fed[tag], tag).toEqual(value);
      }
      for (const tag of FILE_TAGS) expect(fed[tag], tag).toEqual(byName[tag]);
      expect(leftInScratch()).toEqual([]);
    },
  );

  it('an exiftool killed while it reads is a retryable failure, and the next read gets a new exiftool', async () => {
    const file = path.join(dir, 'again.jpg');
    fs.copyFileSync(fixture('jpg/Canon_40D.jpg'), file);
    await readTags(file, signal); // the shared exiftool is up and idle
    const children = exiftoolChildren();
    expect(children).toHaveLength(1);

    // A pipe nobody feeds: once exiftool has opened it (our non-blocking open stops failing), it is
    // reading, and is killed there, as the OOM killer or drill H would.
    const pipe = path.join(dir, 'never-fed');
    await promisify(execFile)('mkfifo', [pipe]);
    const reading = readTags(pipe, signal).then(
      () => null,
      (error: unknown) => error,
    );
    let writer: number | undefined;
    while (writer === undefined) {
      try {
        writer = fs.openSync(pipe, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    process.kill(children[0]!, 'SIGKILL');
    const error = await reading;
    fs.closeSync(writer);
    expect(error).toBeInstanceOf(ToolError);
    expect((error as ToolError).retryable).toBe(true);
    // What the worker records: the step's reason, but tried again (a good file must not end no-metadata).
    expect(failureOf(error, 'no-metadata')).toMatchObject({ reason: 'no-metadata', retryable: true });

    const again = await readTags(file, signal);
    expect(again['EXIF:Make']).toBe('Canon');
  });

  it('an exiftool killed while idle: the next read succeeds on a new one or fails retryable, never "no metadata"', async () => {
    const file = path.join(dir, 'idle.jpg');
    fs.copyFileSync(fixture('jpg/Canon_40D.jpg'), file);
    // The kill and the next task race (the task may be written to the dead child's stdin: EPIPE), so a
    // few rounds; whichever way each falls, a good file must never be called unreadable.
    for (let round = 0; round < 5; round++) {
      await readTags(file, signal);
      for (const pid of exiftoolChildren()) process.kill(pid, 'SIGKILL');
      try {
        expect((await readTags(file, signal))['EXIF:Make']).toBe('Canon');
      } catch (error) {
        expect(error).toBeInstanceOf(ToolError);
        expect(failureOf(error, 'no-metadata')).toMatchObject({ retryable: true });
      }
    }
  });
});
