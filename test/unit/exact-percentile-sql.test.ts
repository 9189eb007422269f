import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDb } from '../../batch/duckdb.ts';
import { exactPercentileSql } from '../../batch/percentile-sql.ts';
import { nearestRank } from '../../pipeline/log-histogram.ts';

// `replay`'s `<output>_exact` beside an approx_percentile is DuckDB's quantile_disc: it must rank as the
// estimate does (ceil(q * n), q as written), or the exact value would be another rank's.
let db: DuckDb;
beforeAll(async () => { db = await DuckDb.open(); });
afterAll(() => db.close());

describe('the exact percentile in SQL', () => {
  it('is the nearest-rank value of nearestRank, for quantiles whose product with n is inexact in doubles too', async () => {
    for (const n of [1, 2, 3, 7, 100, 101, 1001]) {
      for (const q of [0.01, 0.07, 0.29, 0.5, 0.57, 0.9, 0.99, 0.999, 1, 1e-7]) {
        const got = await db.columns(`SELECT ${exactPercentileSql('i', q, 1)} AS v FROM range(1, ${n + 1}) t(i)`);
        expect(Number(got.v![0]), `n ${n}, q ${q}`).toBe(nearestRank(q, n));
      }
    }
  });

  it('divides minor units by the scale once, honours a filter, and is NULL over no value', async () => {
    const got = await db.columns(`SELECT ${exactPercentileSql('m', 0.5, 100, ' FILTER (WHERE m > 0)')} AS v, ${exactPercentileSql('m', 0.5, 100, ' FILTER (WHERE m > 9999)')} AS none
      FROM (VALUES (1234), (-50), (99), (7)) t(m)`);
    expect([got.v![0], got.none![0]]).toEqual([0.99, null]);
  });
});
