import { describe, expect, it } from 'vitest';
import { captureTime, parseExifDate, parseOffset } from '../../../src/pipeline/steps/capture-time.js';

const BERLIN = { latitude: 52.52, longitude: 13.405 };

describe('capture time', () => {
  it('follows the documented precedence, whatever order the tags come in', () => {
    const tags = {
      'QuickTime:MediaCreateDate': '2020:01:01 10:00:00',
      'EXIF:CreateDate': '2020:01:01 11:00:00',
      'EXIF:DateTimeOriginal': '2020:01:01 12:00:00',
      'Composite:GPSDateTime': '2020:01:01 09:00:00Z',
    };
    expect(captureTime(tags, null)).toEqual({
      takenAt: '2020-01-01T12:00:00Z',
      takenAtSource: 'DateTimeOriginal',
      timeZone: null,
    });
    const videoOnly = {
      'QuickTime:MediaCreateDate': tags['QuickTime:MediaCreateDate'],
      'Composite:GPSDateTime': tags['Composite:GPSDateTime'],
    };
    expect(captureTime(videoOnly, null)).toMatchObject({
      takenAt: '2020-01-01T10:00:00Z',
      takenAtSource: 'MediaCreateDate',
    });
    expect(captureTime({ 'Composite:GPSDateTime': '2020:01:01 09:00:00.5Z' }, BERLIN)).toEqual({
      takenAt: '2020-01-01T10:00:00.500+01:00',
      takenAtSource: 'GPSDateTime',
      timeZone: 'Europe/Berlin',
    });
  });

  it('skips blank and zero dates for the next tag', () => {
    expect(parseExifDate('0000:00:00 00:00:00')).toBeNull();
    expect(parseExifDate('    :  :     :  :  ')).toBeNull();
    expect(parseExifDate('1904:01:01 00:00:00')).toBeNull();
    expect(parseExifDate('2021:02:30 10:00:00')).toBeNull();
    const tags = { 'EXIF:DateTimeOriginal': '0000:00:00 00:00:00', 'EXIF:CreateDate': '2015:06:01 08:30:00' };
    expect(captureTime(tags, null).takenAtSource).toBe('CreateDate');
  });

  it('reads QuickTime CreateDate as UTC, but EXIF CreateDate as a wall clock', () => {
    expect(captureTime({ 'QuickTime:CreateDate': '2022:12:24 18:30:00' }, BERLIN)).toEqual({
      takenAt: '2022-12-24T19:30:00+01:00',
      takenAtSource: 'CreateDate',
      timeZone: 'Europe/Berlin',
    });
    expect(captureTime({ 'EXIF:CreateDate': '2022:12:24 18:30:00' }, BERLIN).takenAt).toBe(
      '2022-12-24T18:30:00+01:00',
    );
  });

  it('pairs each date with its offset tag, and accepts EXIF TimeZoneOffset hours', () => {
    const tags = {
      'EXIF:CreateDate': '2021:06:01 09:00:00',
      'EXIF:OffsetTimeDigitized': '-07:00',
      'EXIF:OffsetTimeOriginal': '+02:00',
    };
    expect(captureTime(tags, null)).toMatchObject({
      takenAt: '2021-06-01T09:00:00-07:00',
      timeZone: '-07:00',
    });
    expect(
      captureTime({ 'EXIF:DateTimeOriginal': '2021:06:01 09:00:00', 'EXIF:TimeZoneOffset': '9 9' }, null),
    ).toMatchObject({
      takenAt: '2021-06-01T09:00:00+09:00',
    });
  });

  it('an offset that contradicts the GPS zone stays an offset (the camera says so)', () => {
    const tags = { 'EXIF:DateTimeOriginal': '2021:06:01 09:00:00', 'EXIF:OffsetTimeOriginal': '+00:00' };
    expect(captureTime(tags, BERLIN)).toEqual({
      takenAt: '2021-06-01T09:00:00+00:00',
      takenAtSource: 'DateTimeOriginal',
      timeZone: '+00:00',
    });
  });

  it('falls back to the mtime, an instant in an unknown zone', () => {
    expect(captureTime({ 'File:FileModifyDate': '2023:03:04 10:11:12+01:00' }, null)).toEqual({
      takenAt: '2023-03-04T09:11:12Z',
      takenAtSource: 'mtime',
      timeZone: null,
    });
    expect(captureTime({}, null)).toEqual({ takenAt: null, takenAtSource: null, timeZone: null });
  });

  it('parses offsets', () => {
    expect([
      parseOffset('+05:30'),
      parseOffset('-0800'),
      parseOffset('Z'),
      parseOffset('+25:00'),
      parseOffset(3),
    ]).toEqual([330, -480, 0, null, null]);
  });
});
