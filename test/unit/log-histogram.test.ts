import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bucketsSql } from '../../batch/percentile-sql.ts';
import { DuckDb } from '../../batch/duckdb.ts';
import { LogHistogram, bucketBound, bucketOf, nearestRank, percentileOfBuckets } from '../../pipeline/log-histogram.ts';
import { referenceBound, referenceBucket, referencePercentile } from '../fixtures/log-histogram-reference.ts';

const MIN_SUBNORMAL = 2 ** -1074, MIN_NORMAL = 2 ** -1022;
const below = (x: number) => x - x * 2 ** -53; // the double just below a power of two x > 2^-1021
const above = (x: number) => x + x * 2 ** -52;

/** Powers of two, the doubles either side, subnormals, the extremes, and their negatives. */
const EDGES: number[] = (() => {
  const xs = [0, -0, 1, 3, 5, 127, 128, 129, 255, 256, 257, 1000, 0.1, 0.2, 0.3, 1 / 3, 2 ** 53 - 1, 2 ** 53, Number.MAX_VALUE, Number.MAX_SAFE_INTEGER,
    MIN_SUBNORMAL, 2 * MIN_SUBNORMAL, 3 * MIN_SUBNORMAL, 127 * MIN_SUBNORMAL, 128 * MIN_SUBNORMAL, 255 * MIN_SUBNORMAL, 12345 * MIN_SUBNORMAL,
    MIN_NORMAL, MIN_NORMAL - MIN_SUBNORMAL, MIN_NORMAL + MIN_SUBNORMAL, 2 ** 1023, 1.5 * 2 ** 1023];
  for (let e = -1020; e <= 1022; e += 7) xs.push(2 ** e, below(2 ** e), above(2 ** e), 2 ** e * (1 + 1 / 128), below(2 ** e * (1 + 1 / 128)));
  return [...xs, ...xs.map((x) => -x)];
})();

/** Any finite double, with the edge cases and integers as a dashboard's fields hold them drawn often. */
const doubleArb = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(...EDGES),
  fc.integer({ min: -1_000_000, max: 1_000_000 }),
  fc.double({ min: 0.001, max: 100_000, noNaN: true }),
);

describe('the bucket of a double (exact arithmetic)', () => {
  it('is the bucket its IEEE bits give, at powers of two, either side of them, subnormals, huge values and negatives', () => {
    for (const v of EDGES) expect([v, bucketOf(v)]).toEqual([v, referenceBucket(v)]);
    expect(bucketOf(1)).toBe(1074 * 128 + 1);
    expect(bucketOf(below(1))).toBe(bucketOf(1) - 1); // the last sub-bucket of [1/2, 1)
    expect(bucketOf(MIN_SUBNORMAL)).toBe(1);
    expect(bucketOf(-0)).toBe(0);
    expect(bucketOf(-5)).toBe(-bucketOf(5));
  });

  it('agrees with the bits over random doubles; its bound is the value cut to 7 bits, nearest zero, in its own bucket', () => {
    fc.assert(fc.property(doubleArb, (v) => {
      const b = bucketOf(v);
      expect(b).toBe(referenceBucket(v));
      expect(bucketBound(b)).toBe(referenceBound(v));
      expect(bucketOf(bucketBound(b))).toBe(b);
      expect(Math.abs(v - bucketBound(b))).toBeLessThanOrEqual(Math.abs(v) * 2 ** -7);
    }), { numRuns: 20_000 });
  });

  it('keeps integers below 256 exact, and orders buckets as their values', () => {
    for (let i = -300; i <= 300; i++) if (Math.abs(i) < 256) expect(bucketBound(bucketOf(i))).toBe(i);
    const sorted = [...EDGES].sort((a, b) => a - b);
    for (let i = 1; i < sorted.length; i++) expect(bucketOf(sorted[i]!)).toBeGreaterThanOrEqual(bucketOf(sorted[i - 1]!));
  });
});

describe('the replay\'s SQL bucket', () => {
  let db: DuckDb;
  beforeAll(async () => { db = await DuckDb.open(':memory:', { threads: 1 }); });
  afterAll(() => db.close());

  /** Each value through DuckDB as a DOUBLE read from its shortest text (checked to arrive unchanged), then bucketed. */
  async function sqlBuckets(values: readonly number[], type = 'DOUBLE'): Promise<{ v: number; b: number | null }[]> {
    const rows = values.map((v, i) => `(${i}, '${Object.is(v, -0) ? '-0.0' : String(v)}'::${type})`).join(', ');
    await db.run(`CREATE OR REPLACE TEMP TABLE vals AS SELECT * FROM (VALUES ${rows}) t(i, v)`);
    const got = await db.rows(`SELECT i, v::DOUBLE AS v, __b FROM (${bucketsSql('v', ['i', 'v'], 'vals')}) ORDER BY i`);
    return got.map((r) => ({ v: r.v as number, b: r.__b === null ? null : Number(r.__b) }));
  }

  it('equals the stream\'s for the edge cases and for thousands of random doubles', async () => {
    const values = [...EDGES, ...fc.sample(doubleArb, { numRuns: 5_000, seed: 35 })];
    const got = await sqlBuckets(values);
    got.forEach((g, i) => {
      expect(Object.is(g.v, values[i]) || g.v === values[i]).toBe(true); // the double arrived as is
      expect([values[i], g.b]).toEqual([values[i], bucketOf(values[i]!)]);
    });
  });

  it('equals it for BIGINT columns (int fields, decimal minor units) up to 2^53, and is NULL for NULL', async () => {
    const ints = [0, 1, -1, 255, 256, 257, 2 ** 31, 2 ** 53 - 1, -(2 ** 53 - 1), ...fc.sample(fc.maxSafeInteger(), { numRuns: 500, seed: 7 })];
    const got = await sqlBuckets(ints, 'BIGINT');
    got.forEach((g, i) => expect([ints[i], g.b]).toEqual([ints[i], bucketOf(ints[i]!)]));
    const nulls = await db.rows(`SELECT __b FROM (${bucketsSql('NULL::DOUBLE', [], '(SELECT 1)')})`);
    expect(nulls).toEqual([{ __b: null }]);
  });
});

describe('the percentile estimate (nearest rank, the bucket bound nearest zero)', () => {
  it('is within 2^-7 of the exact nearest-rank percentile, never larger in magnitude, and the reference\'s', () => {
    const qs = [0.001, 0.01, 0.07, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1];
    fc.assert(fc.property(fc.array(doubleArb, { minLength: 1, maxLength: 300 }), fc.constantFrom(...qs), (values, q) => {
      const h = new LogHistogram();
      for (const v of values) h.add(v);
      const got = percentileOfBuckets(h.counts, q)!;
      const sorted = [...values].sort((a, b) => a - b);
      const exact = sorted[Math.max(1, Math.ceil(Math.round(q * 1000) * values.length / 1000)) - 1]!;
      expect(Math.abs(got - exact)).toBeLessThanOrEqual(Math.abs(exact) * 2 ** -7);
      expect(Math.abs(got)).toBeLessThanOrEqual(Math.abs(exact));
      expect(got).toBe(referencePercentile(values, q));
    }), { numRuns: 3_000 });
  });

  it('is null over no value; a quantile is read as its decimal text (0.07 of 100 values is the 7th)', () => {
    expect(percentileOfBuckets(new LogHistogram().counts, 0.5)).toBeNull();
    expect(nearestRank(0.07, 100)).toBe(7);
    expect(Math.ceil(0.07 * 100)).toBe(8); // what the double product would rank
    expect(nearestRank(1, 5)).toBe(5);
    expect(nearestRank(1e-7, 5)).toBe(1);
    expect(nearestRank(0.5, 3)).toBe(2);
    const h = new LogHistogram();
    for (let i = 1; i <= 100; i++) h.add(i);
    expect([0.07, 0.5, 0.99, 1].map((q) => percentileOfBuckets(h.counts, q))).toEqual([7, 50, 99, 100]);
  });

  it('survives merges and serialised restores in any order (one text per state)', () => {
    fc.assert(fc.property(fc.array(fc.array(doubleArb, { maxLength: 50 }), { maxLength: 6 }), (parts) => {
      const whole = new LogHistogram();
      for (const v of parts.flat()) whole.add(v);
      const merged = new LogHistogram();
      for (const part of [...parts].reverse()) {
        const h = new LogHistogram();
        for (const v of part) h.add(v);
        merged.merge(LogHistogram.deserialize(JSON.parse(JSON.stringify(h.serialize()))));
      }
      expect(JSON.stringify(merged.serialize())).toBe(JSON.stringify(whole.serialize()));
    }), { numRuns: 500 });
    expect(() => LogHistogram.deserialize([[1, 0]])).toThrow(/not a serialised log histogram/);
  });
});
