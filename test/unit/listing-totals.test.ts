import { expect, it } from 'vitest';
import { ListingTotals } from '../../src/api/listing-totals.js';

/** Totals are kept per key, longer when they cost more, and a stale one answers while it is recounted. */
it('keeps a cheap total 2 s and a costly one 20 times its cost, recounting behind the old answer', async () => {
  let now = 0;
  const totals = new ListingTotals(() => now);
  let counts = 0;
  const cheap = () => Promise.resolve(++counts * 10);
  expect(await totals.get('a', cheap)).toBe(10);
  now = 1999;
  expect(await totals.get('a', cheap)).toBe(10);
  expect(counts).toBe(1);
  now = 2000;
  // Expired: the old total answers, a recount starts; the next request sees it.
  expect(await totals.get('a', cheap)).toBe(10);
  expect(counts).toBe(2);
  expect(await totals.get('a', cheap)).toBe(20);

  // A count that takes 500 ms is kept 10 s.
  let finish: (n: number) => void = () => undefined;
  const slow = () =>
    new Promise<number>((resolve) => {
      finish = resolve;
    });
  now = 10_000;
  const first = totals.get('b', slow);
  now = 10_500;
  finish(7);
  expect(await first).toBe(7);
  await Promise.resolve();
  now = 19_999;
  let recounted = false;
  expect(await totals.get('b', () => ((recounted = true), Promise.resolve(8)))).toBe(7);
  expect(recounted).toBe(false);
  now = 20_600;
  expect(await totals.get('b', () => ((recounted = true), Promise.resolve(8)))).toBe(7);
  expect(recounted).toBe(true);
  await Promise.resolve();
  await Promise.resolve();
  expect(await totals.get('b', () => Promise.resolve(9))).toBe(8);
});

it('counts a new total with the first function and recounts a stale one with the second', async () => {
  let now = 0;
  const totals = new ListingTotals(() => now);
  const used: string[] = [];
  const first = () => (used.push('inline'), Promise.resolve(1));
  const again = () => (used.push('thread'), Promise.resolve(2));
  expect(await totals.get('k', first, again)).toBe(1);
  now = 2000;
  expect(await totals.get('k', first, again)).toBe(1);
  await Promise.resolve();
  expect(await totals.get('k', first, again)).toBe(2);
  expect(used).toEqual(['inline', 'thread']);
});
