import { E_MIN, SUB_BUCKET_BITS } from '../pipeline/log-histogram.ts';

/**
 * `approx_percentile` in the replay: per (window, key) group, how many values fall in each bucket of the
 * log-linear histogram (pipeline/log-histogram.ts), computed with the same exact steps as `bucketOf`:
 * e = floor(log2(|x|)) corrected by exact powers of two, m = floor((|x| / 2^e - 1) * 2^K). The estimate is
 * then `percentileOfBuckets`, the stream's own function, on these counts.
 */

/** The bucket of the DOUBLE column `x` given `a` = abs(x) and `e` its exponent (NULL when x is NULL). */
function bucketOfSql(x: string, a: string, e: string): string {
  const sub = 2 ** SUB_BUCKET_BITS;
  const magnitude = `((${e} - (${E_MIN})) * ${sub} + floor((${a} / pow(2.0, ${e}) - 1) * ${sub})::INTEGER + 1)`;
  return `CASE WHEN ${x} = 0 THEN 0 WHEN ${x} < 0 THEN -${magnitude} ELSE ${magnitude} END`;
}

/**
 * `value` (a numeric column over `from`) as its bucket `__b`, with the columns `keep` carried: three
 * selects, each naming what the next one reads. A NULL value has a NULL bucket.
 */
export function bucketsSql(value: string, keep: readonly string[], from: string): string {
  const cols = keep.length === 0 ? '' : `${keep.join(', ')}, `;
  // log2 may land one off next to a power of two: corrected by exact comparisons (pow(2.0, e) is exact).
  const e = `CASE WHEN pow(2.0, __e0) > __a THEN __e0 - 1 WHEN pow(2.0, __e0 + 1) <= __a THEN __e0 + 1 ELSE __e0 END`;
  return `SELECT ${cols}${bucketOfSql('__x', '__a', '__e')} AS __b FROM (
          SELECT ${cols}__x, __a, ${e} AS __e FROM (
            SELECT ${cols}__x, abs(__x) AS __a, CASE WHEN __x <> 0 THEN floor(log2(abs(__x)))::INTEGER END AS __e0 FROM (
              SELECT ${cols}(${value})::DOUBLE AS __x FROM ${from})))`;
}

/**
 * The bucket histogram of `column` per group (`groupCols`) of `assigned`: rows (groups, __b, __c). Values
 * the aggregate's own filter leaves out, and nulls, stay with a NULL bucket: their group still is a cell
 * (null over no value, as in the stream).
 */
export function percentileHistogramSql(column: string, groupCols: readonly string[], assigned: string, filter?: string): string {
  const value = filter === undefined ? column : `CASE WHEN coalesce(${filter}, false) THEN ${column} END`;
  return `
      SELECT ${groupCols.join(', ')}, __b, count(*) AS __c
      FROM (${bucketsSql(value, groupCols, assigned)}) GROUP BY ALL`;
}

/**
 * The exact nearest-rank q-quantile of `column` in minor units (`quantile_disc`: the ceil(q * n)-th
 * smallest, q taken as its decimal text; checked against `nearestRank`), as a DOUBLE in major units;
 * NULL over no value. `filter`: a FILTER clause or ''. Beside each estimate for comparing (`<output>_exact`).
 */
export function exactPercentileSql(column: string, quantile: number, scale: number, filter = ''): string {
  // A DECIMAL literal: 0.07 exactly, as nearestRank reads it (an exponent would make it a DOUBLE).
  const q = String(quantile).includes('e') ? quantile.toFixed(20) : String(quantile);
  const exact = `quantile_disc(${column}, ${q})${filter}`;
  return scale === 1 ? `(${exact})::DOUBLE` : `(${exact})::DOUBLE / ${scale}`;
}
