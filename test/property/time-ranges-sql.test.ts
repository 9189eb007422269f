import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { DuckDb } from '../../batch/duckdb.ts';
import { inTimeRanges, mergeRanges } from '../../batch/time-ranges-sql.ts';

// `inTimeRanges` searches many ranges as a tree (a backfill's dirty windows over a day): for random
// ranges (overlapping, adjacent, empty, unsorted) and instants on and around their bounds, the SQL
// holds exactly the instants some [from, to) holds.

const db = await DuckDb.open();
afterAll(() => db.close());

const rangesArb = fc.array(fc.tuple(fc.integer({ min: -50, max: 400 }), fc.integer({ min: 0, max: 40 })).map(([from, n]) => ({ from, to: from + n })), { maxLength: 40 });

describe('property: inTimeRanges over many ranges', () => {
  it('holds exactly the instants of the ranges', async () => {
    await fc.assert(
      fc.asyncProperty(rangesArb, async (ranges) => {
        const points = [...new Set([-60, 500, ...ranges.flatMap((r) => [r.from - 1, r.from, r.to - 1, r.to])])];
        const rows = await db.rows(`SELECT t, ${inTimeRanges('t', ranges)} AS inside FROM unnest([${points.join(', ')}]::BIGINT[]) AS u(t) ORDER BY t`);
        const got = rows.map((r) => [Number(r.t), r.inside]);
        const want = [...points].sort((a, b) => a - b).map((t) => [t, ranges.some((r) => t >= r.from && t < r.to)]);
        expect(got).toEqual(want);
      }),
      { numRuns: 200 },
    );
  });

  it('mergeRanges: the same instants, sorted, disjoint and apart', () => {
    fc.assert(
      fc.property(rangesArb, fc.integer({ min: -60, max: 500 }), (ranges, t) => {
        const merged = mergeRanges(ranges);
        expect(merged.some((r) => t >= r.from && t < r.to)).toBe(ranges.some((r) => t >= r.from && t < r.to));
        merged.forEach((r, i) => {
          expect(r.from).toBeLessThan(r.to);
          if (i > 0) expect(r.from).toBeGreaterThan(merged[i - 1]!.to);
        });
      }),
      { numRuns: 500 },
    );
  });
});
