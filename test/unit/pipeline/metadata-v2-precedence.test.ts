import { describe, expect, it } from 'vitest';
import { normalizeMetadataV2 } from '../../../src/pipeline/steps/normalize-metadata-v2.js';
import type { SidecarContent } from '../../../src/pipeline/steps/read-sidecars.js';

const FILE = {
  'File:MIMEType': 'image/jpeg',
  'EXIF:Make': 'Canon',
  'EXIF:Model': 'Canon EOS 40D',
  'EXIF:DateTimeOriginal': '2008:05:30 15:56:01',
  'XMP:Rating': 2,
  'IPTC:Keywords': ['old'],
  'Composite:GPSLatitude': 40.0,
  'Composite:GPSLongitude': -3.7,
};
const none: SidecarContent = { xmp: null, takeout: null, read: [], ignored: [] };

function input(tags: Record<string, unknown>) {
  return { tags, mediaType: 'image' as const, mime: 'image/jpeg', probe: null };
}

describe('metadata precedence (docs/metadata.md)', () => {
  it('an XMP sidecar’s edit wins over the file, camera facts stay the file’s', () => {
    const xmp: SidecarContent = {
      ...none,
      xmp: {
        path: 'IMG.xmp',
        tags: {
          'XMP:DateTimeOriginal': '2008:05:30 16:00:00+02:00',
          'XMP:Rating': 5,
          'XMP:Subject': ['new'],
          'XMP:GPSLatitude': 48.8584,
          'XMP:GPSLongitude': 2.2945,
          'XMP:Make': 'Other',
        },
      },
      read: [{ path: 'IMG.xmp', sha256: 'a'.repeat(64), kind: 'xmp' }],
    };
    const m = normalizeMetadataV2(input(FILE), xmp);
    expect(m).toMatchObject({
      takenAt: '2008-05-30T16:00:00+02:00',
      timeZoneSource: 'sidecar',
      rating: 5,
      keywords: ['new'],
      gps: { latitude: 48.8584, longitude: 2.2945 },
      make: 'Canon',
    });
    expect(m.fromSidecar).toEqual([
      'takenAt',
      'takenAtLocal',
      'takenAtSource',
      'timeZone',
      'timeZoneSource',
      'gps',
      'rating',
      'keywords',
    ]);
  });

  it('a Takeout JSON fills in only what the file lacks', () => {
    const takeout: SidecarContent = {
      ...none,
      takeout: {
        path: 'IMG.jpg.json',
        json: {
          photoTakenTime: { timestamp: '1625423400' },
          geoData: { latitude: 52.52, longitude: 13.405 },
          description: 'lake',
        },
      },
    };
    const withDate = normalizeMetadataV2(input(FILE), takeout);
    expect(withDate).toMatchObject({ takenAtSource: 'DateTimeOriginal', gps: { latitude: 40 } });
    expect(withDate.fromSidecar).toEqual(['description']);
    const stripped = normalizeMetadataV2(input({ 'File:MIMEType': 'image/jpeg' }), takeout);
    expect(stripped).toMatchObject({
      takenAt: '2021-07-04T20:30:00+02:00',
      takenAtSource: 'takeout:photoTakenTime',
      gps: { latitude: 52.52, longitude: 13.405 },
    });
  });
});
