/** The race process's one compaction after its attempts' setup (src/race/heap.ts). */
import { describe, expect, it } from 'vitest';
import { compactHeap } from '../src/race/heap.js';

describe('race heap', () => {
  it('compacts in a process started without --expose-gc: the garbage goes and the heap shrinks, twice over', () => {
    for (let round = 0; round < 2; round++) {
      let junk: object[] | null = [];
      for (let i = 0; i < 400_000; i++) junk.push({ i, s: `x${i}` });
      expect(junk.length).toBe(400_000);
      junk = null;
      const c = compactHeap();
      expect(c.afterBytes).toBeLessThan(c.beforeBytes);
      expect(c.ms).toBeGreaterThanOrEqual(0);
    }
  });
});
