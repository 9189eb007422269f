/** A time range [from, to) in epoch ms. */
export interface TimeRange {
  readonly from: number;
  readonly to: number;
}

/** Ranges up to this many are tested one after the other; more are searched as a tree. */
const FLAT = 4;

/**
 * SQL: `ts` (epoch ms) falls in one of `ranges` ([from, to)). Many ranges (a backfill's dirty windows
 * spread over a day) are merged and searched as a balanced tree of `CASE WHEN ts < bound`, about
 * log2(n) comparisons a row instead of 2n (measured: 156 ranges over 2M events, 2.6 s as one OR of
 * every range), behind the overall bounds, which DuckDB pushes into the Parquet scan.
 */
export function inTimeRanges(ts: string, ranges: readonly TimeRange[]): string {
  if (ranges.length === 0) return 'false';
  const flat = (rs: readonly TimeRange[]) => `(${rs.map((r) => `(${ts} >= ${r.from} AND ${ts} < ${r.to})`).join(' OR ')})`;
  if (ranges.length <= FLAT) return flat(ranges);
  const merged = mergeRanges(ranges);
  if (merged.length === 0) return 'false';
  if (merged.length <= FLAT) return flat(merged);
  // Sorted and disjoint: below merged[mid].from, only the ranges before mid can hold ts.
  const tree = (lo: number, hi: number): string => {
    if (hi - lo <= FLAT) return flat(merged.slice(lo, hi));
    const mid = (lo + hi) >> 1;
    return `(CASE WHEN ${ts} < ${merged[mid]!.from} THEN ${tree(lo, mid)} ELSE ${tree(mid, hi)} END)`;
  };
  return `(${ts} >= ${merged[0]!.from} AND ${ts} < ${merged.at(-1)!.to} AND ${tree(0, merged.length)})`;
}

/** The same instants as `ranges`, as sorted, disjoint, non-adjacent ranges (empty ones dropped). */
export function mergeRanges(ranges: readonly TimeRange[]): TimeRange[] {
  const out: { from: number; to: number }[] = [];
  for (const r of [...ranges].filter((x) => x.from < x.to).sort((a, b) => a.from - b.from)) {
    const last = out.at(-1);
    if (last && r.from <= last.to) last.to = Math.max(last.to, r.to);
    else out.push({ from: r.from, to: r.to });
  }
  return out;
}
