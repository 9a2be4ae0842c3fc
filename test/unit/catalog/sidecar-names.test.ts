import { describe, expect, it } from 'vitest';
import { matchPrefix, sidecarPlan } from '../../../src/catalog/sidecar-names.js';

describe('sidecar names', () => {
  it('reads XMP names: exact file, or the stem with the RAW first', () => {
    expect(sidecarPlan('IMG_1234.CR2.xmp')).toEqual({
      kind: 'xmp',
      exact: ['IMG_1234.CR2', 'IMG_1234.cr2'],
      prefix: null,
    });
    const stem = sidecarPlan('IMG_1234.xmp')!;
    expect(stem.exact).toContain('IMG_1234.JPG');
    expect(stem.exact).toContain('IMG_1234.nef');
    // Lightroom's IMG_1234.xmp beside IMG_1234.CR2 and IMG_1234.JPG belongs to the RAW.
    expect(stem.exact.indexOf('IMG_1234.CR2')).toBeLessThan(stem.exact.indexOf('IMG_1234.JPG'));
  });

  it('reads Takeout names and their variants', () => {
    expect(sidecarPlan('IMG_1234.HEIC.json')!.exact[0]).toBe('IMG_1234.HEIC');
    expect(sidecarPlan('IMG_1234.jpg.supplemental-metadata.json')!.exact).toContain('IMG_1234.jpg');
    expect(sidecarPlan('IMG_1234.jpg.supplemental-met.json')!.exact).toContain('IMG_1234.jpg');
    expect(sidecarPlan('IMG_1234.jpg(1).json')!.exact[0]).toBe('IMG_1234(1).jpg');
    expect(sidecarPlan('IMG_1234.jpg.supplemental-metadata(2).json')!.exact[0]).toBe('IMG_1234(2).jpg');
    expect(sidecarPlan('IMG_1234.json')!.exact).toContain('IMG_1234.jpg');
    const cut = sidecarPlan('a_summer_evening_at_the_lake_with_friends_2.json')!;
    expect(cut.prefix).toBe('a_summer_evening_at_the_lake_with_friends_2');
    expect(
      matchPrefix(cut.prefix!, ['a_summer_evening_at_the_lake_with_friends_2021.jpg', 'a_summer.txt']),
    ).toBe('a_summer_evening_at_the_lake_with_friends_2021.jpg');
    // A short name is whole: it is never taken as a prefix of something longer.
    expect(sidecarPlan('IMG_1.json')!.prefix).toBeNull();
  });

  it('ignores what is not named like a sidecar', () => {
    expect(sidecarPlan('IMG_1234.jpg')).toBeNull();
    expect(sidecarPlan('.json')).toBeNull();
  });
});
