import { describe, expect, it } from 'vitest';
import { captureTimeV2 } from '../../../src/pipeline/steps/capture-time-v2.js';

const BERLIN = { latitude: 52.52, longitude: 13.405 };

describe('capture time, core@2', () => {
  it('keeps a camera wall clock of an unknown zone as it is, never as Z', () => {
    expect(captureTimeV2({ 'EXIF:DateTimeOriginal': '2007:12:06 14:33:18' }, null)).toEqual({
      takenAt: null,
      takenAtLocal: '2007-12-06T14:33:18',
      takenAtSource: 'DateTimeOriginal',
      timeZone: null,
      timeZoneSource: null,
    });
  });

  it('names where the zone came from: offset tag, GPS, a UTC format, a sidecar', () => {
    const offset = captureTimeV2(
      { 'EXIF:DateTimeOriginal': '2022:02:16 12:55:41', 'EXIF:OffsetTimeOriginal': '+01:00' },
      null,
    );
    expect(offset).toMatchObject({ takenAt: '2022-02-16T12:55:41+01:00', timeZoneSource: 'offset-tag' });
    const gps = captureTimeV2({ 'EXIF:DateTimeOriginal': '2022:07:01 12:00:00' }, BERLIN);
    expect(gps).toMatchObject({
      takenAt: '2022-07-01T12:00:00+02:00',
      takenAtLocal: '2022-07-01T12:00:00',
      timeZone: 'Europe/Berlin',
      timeZoneSource: 'gps',
    });
    const quicktime = { 'QuickTime:CreateDate': '2021:07:04 18:30:00' };
    expect(captureTimeV2(quicktime, BERLIN)).toMatchObject({
      takenAt: '2021-07-04T20:30:00+02:00',
      takenAtLocal: '2021-07-04T20:30:00',
      timeZoneSource: 'utc-by-format',
    });
    // A true UTC instant of an unknown zone is the only `Z`.
    expect(captureTimeV2(quicktime, null)).toEqual({
      takenAt: '2021-07-04T18:30:00Z',
      takenAtLocal: '2021-07-04T18:30:00',
      takenAtSource: 'CreateDate',
      timeZone: null,
      timeZoneSource: 'utc-by-format',
    });
    const sidecar = captureTimeV2({ 'EXIF:DateTimeOriginal': '2007:12:06 14:33:18' }, null, {
      xmp: { tag: 'DateTimeOriginal', value: '2007:12:06 15:00:00+01:00' },
    });
    expect(sidecar).toMatchObject({
      takenAt: '2007-12-06T15:00:00+01:00',
      takenAtSource: 'xmp:DateTimeOriginal',
      timeZoneSource: 'sidecar',
    });
  });

  it('uses Takeout’s photoTakenTime only when the file has no date', () => {
    const stamp = Date.UTC(2021, 6, 4, 18, 30) / 1000;
    expect(captureTimeV2({}, BERLIN, { takeoutTimestamp: stamp })).toMatchObject({
      takenAt: '2021-07-04T20:30:00+02:00',
      takenAtSource: 'takeout:photoTakenTime',
    });
    expect(
      captureTimeV2({ 'EXIF:DateTimeOriginal': '2020:01:01 10:00:00' }, null, { takeoutTimestamp: stamp }),
    ).toMatchObject({ takenAtLocal: '2020-01-01T10:00:00', takenAtSource: 'DateTimeOriginal' });
  });

  it('never prints Z for anything but a UTC instant', () => {
    const cases = [
      { 'EXIF:DateTimeOriginal': '2010:05:05 10:00:00' },
      { 'EXIF:CreateDate': '2010:05:05 10:00:00' },
      { 'XMP:DateTimeOriginal': '2010:05:05 10:00:00' },
    ];
    for (const tags of cases) expect(captureTimeV2(tags, null).takenAt).toBeNull();
  });
});
