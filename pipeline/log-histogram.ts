import { DefinitionError } from './errors.ts';

/**
 * The log-linear histogram behind `approx_percentile` (HdrHistogram's layout): a value v > 0 falls in
 * bucket (e, m) with 2^e <= v < 2^(e+1) and m = floor((v / 2^e - 1) * 2^K), 2^K sub-buckets per power of
 * two, so a bucket spans less than 2^-K of any value in it. Every step is exact in IEEE doubles (a power of
 * two, a division by one, a subtraction of 1 from a number in [1, 2), a product by 2^K, a floor), so the
 * replay's SQL (`bucketSql`) and this function put every double in the same bucket. The estimate is
 * computed by one function from the bucket counts (`percentileOfBuckets`), which both runtimes call.
 *
 * A bucket is one integer that sorts as its values do: 0 for zero, (e - E_MIN) * 2^K + m + 1 for v > 0,
 * and the negative of |v|'s bucket for v < 0 (mirrored).
 */
export const SUB_BUCKET_BITS = 7;
const SUB = 2 ** SUB_BUCKET_BITS;
/** The exponent of the smallest subnormal double, 2^-1074. */
export const E_MIN = -1074;
const E_MAX = 1023;

/** POW2[e - E_MIN] = 2^e, built by halving (exact down to 2^-1074; `Math.pow` is not promised exact). */
const POW2: number[] = (() => {
  const out = new Array<number>(E_MAX - E_MIN + 1);
  let p = 1;
  for (let e = 0; e <= E_MAX; e++, p *= 2) out[e - E_MIN] = p;
  p = 1;
  for (let e = 0; e >= E_MIN; e--, p /= 2) out[e - E_MIN] = p;
  return out;
})();

/** 2^e for e in [E_MIN, E_MAX]; Infinity above (only ever compared with a finite value). */
function pow2(e: number): number {
  return e > E_MAX ? Number.POSITIVE_INFINITY : POW2[e - E_MIN]!;
}

/** The bucket of a finite value (see above). */
export function bucketOf(v: number): number {
  if (v === 0) return 0; // -0 too
  const a = Math.abs(v);
  // log2 may land one off next to a power of two: corrected by exact comparisons.
  let e = Math.floor(Math.log2(a));
  if (pow2(e) > a) e--;
  else if (pow2(e + 1) <= a) e++;
  const m = Math.floor((a / pow2(e) - 1) * SUB);
  const b = (e - E_MIN) * SUB + m + 1;
  return v < 0 ? -b : b;
}

/** A bucket's bound nearest zero, 2^e * (1 + m / 2^K) mirrored: exact, and the value of every integer below 2^(K+1). */
export function bucketBound(bucket: number): number {
  if (bucket === 0) return 0;
  const b = Math.abs(bucket) - 1;
  const e = Math.floor(b / SUB) + E_MIN, m = b % SUB;
  // m * 2^(e-K), exact: 2^(e-K) itself is no double below 2^-1074, where m * 2^e is (m < 2^K) and / 2^K stays a multiple of 2^-1074.
  const bound = pow2(e) + (e - SUB_BUCKET_BITS >= E_MIN ? m * pow2(e - SUB_BUCKET_BITS) : (m * pow2(e)) / SUB);
  return bucket < 0 ? -bound : bound;
}

/**
 * A quantile as the exact fraction its shortest decimal text writes (0.07 is 7/100, not the double just
 * above it): `ceil(q * n)` on the double would rank 7 of 100 values 8th.
 */
function quantileFraction(q: number): { num: bigint; den: bigint } {
  const [mantissa, exponent = '0'] = String(q).split('e');
  const [whole, frac = ''] = mantissa!.split('.');
  const exp = Number(exponent) - frac.length;
  const num = BigInt(whole! + frac);
  return exp >= 0 ? { num: num * 10n ** BigInt(exp), den: 1n } : { num, den: 10n ** BigInt(-exp) };
}

/** The nearest rank of quantile q among n values: ceil(q * n), at least 1 (q exact as written). */
export function nearestRank(q: number, n: number): number {
  const { num, den } = quantileFraction(q);
  const r = (num * BigInt(n) + den - 1n) / den;
  return Math.max(1, Number(r));
}

export function checkQuantile(q: unknown): q is number {
  return typeof q === 'number' && Number.isFinite(q) && q > 0 && q <= 1;
}

/**
 * The q-quantile of the values counted in `buckets` (bucket -> count), nearest rank: the bound nearest
 * zero of the bucket holding the ceil(q * n)-th smallest value; null over no value. Within 2^-K of the
 * exact nearest-rank value, relative, never larger in magnitude.
 */
export function percentileOfBuckets(buckets: Iterable<readonly [number, number]>, q: number): number | null {
  if (!checkQuantile(q)) throw new DefinitionError(`a quantile must be a number in (0, 1], got ${q}`);
  const sorted = [...buckets].filter(([, c]) => c > 0).sort((x, y) => x[0] - y[0]);
  let n = 0;
  for (const [, c] of sorted) n += c;
  if (n === 0) return null;
  const rank = nearestRank(q, n);
  let seen = 0;
  for (const [bucket, c] of sorted) {
    seen += c;
    if (seen >= rank) return bucketBound(bucket);
  }
  return bucketBound(sorted[sorted.length - 1]![0]);
}

/** A sparse bucket -> count map: the stream's state of one `approx_percentile`. */
export class LogHistogram {
  readonly counts = new Map<number, number>();

  add(v: number): void {
    const b = bucketOf(v);
    this.counts.set(b, (this.counts.get(b) ?? 0) + 1);
  }

  merge(other: LogHistogram): void {
    for (const [b, c] of other.counts) this.counts.set(b, (this.counts.get(b) ?? 0) + c);
  }

  /** `[[bucket, count], ...]` in bucket order: one text per state, whatever the order of additions. */
  serialize(): [number, number][] {
    return [...this.counts].sort((x, y) => x[0] - y[0]);
  }

  static deserialize(data: unknown): LogHistogram {
    const h = new LogHistogram();
    if (!Array.isArray(data)) throw new DefinitionError('not a serialised log histogram: expected [[bucket, count], ...]');
    for (const pair of data) {
      const [b, c] = Array.isArray(pair) ? pair : [];
      if (!Number.isSafeInteger(b) || !Number.isSafeInteger(c) || c < 1) throw new DefinitionError(`not a serialised log histogram: ${JSON.stringify(pair)}`);
      h.counts.set(b, (h.counts.get(b) ?? 0) + c);
    }
    return h;
  }
}
