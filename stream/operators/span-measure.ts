import { addExact } from '../../pipeline/aggregates.ts';
import type { FieldValue } from '../../schemas/schema.ts';

/** What the measure needs of a kept event: its time and measured value (undefined: null, or a count rule). */
export interface SpanEvent {
  readonly ts: number;
  readonly value: FieldValue | undefined;
}

/** A rule's measure over some of a key's kept events. */
export interface Measured {
  readonly measure: number | bigint;
  /**
   * The distinct values (distinct rules only), listed when asked: an alert's value. Listed at every
   * decision, a key with d distinct values in its span cost O(d) a decision again.
   */
  readonly distinct?: () => FieldValue[];
}

/**
 * A lookback rule's measure over one key's kept events `kept[lo, hi)`, kept from one decision to the
 * next and slid forward: decisions come in (ts, id) order, so each one adds the events up to it and
 * removes those that left its span. Recomputed over the whole span for each decision, a key with k
 * events in a span cost O(k) a decision and O(k^2) in all: one card with 20,000 transactions in 10
 * minutes stopped a worker for 18 s, 100,000 for most of an hour. The range holds indexes into `kept`:
 * whoever inserts before `hi` or removes from the front says so (`inserted`, `removed`).
 * count, distinct and exact sums only: a double sum's last bits depend on the order of its additions,
 * and removing what was added would not give the replay's frame sum back (`slides`).
 */
export class SpanMeasure {
  private lo = 0;
  private hi = 0;
  private valid = false;
  /** distinct: how many events in the range hold each value. */
  private readonly counts = new Map<FieldValue, number>();
  /** Exact sum: the range's sum (pipeline/aggregates.ts's addExact). */
  private readonly acc = { s: 0, b: 0n };

  constructor(private readonly kind: 'distinct' | 'count' | 'sum') {}

  /** Whether a rule's measure may be slid: count, distinct, and a sum over an int or decimal field. */
  static slides(measure: 'distinct' | 'count' | 'sum', exactSum: boolean): boolean {
    return measure !== 'sum' || exactSum;
  }

  /** An event was inserted at `index` of the kept events. */
  inserted(index: number): void {
    if (index < this.hi) this.valid = false;
  }

  /** The first `n` kept events were removed. */
  removed(n: number): void {
    if (n <= this.lo) {
      this.lo -= n;
      this.hi -= n;
    } else this.valid = false;
  }

  /** The measure over `kept[lo, hi)` (`kept` sorted by ts), sliding the range held to it when it moved forward. */
  over(kept: readonly SpanEvent[], lo: number, hi: number): Measured {
    if (!this.valid || lo < this.lo || hi < this.hi) {
      this.counts.clear();
      this.acc.s = 0;
      this.acc.b = 0n;
      this.lo = this.hi = lo;
      this.valid = true;
    }
    for (; this.hi < hi; this.hi++) this.add(kept[this.hi]!.value, 1);
    for (; this.lo < lo; this.lo++) this.add(kept[this.lo]!.value, -1);
    if (this.kind === 'count') return { measure: hi - lo };
    if (this.kind === 'distinct') return { measure: this.counts.size, distinct: () => [...this.counts.keys()] };
    if (this.acc.b === 0n) return { measure: this.acc.s };
    const total = this.acc.b + BigInt(this.acc.s);
    return { measure: total >= BigInt(Number.MIN_SAFE_INTEGER) && total <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(total) : total };
  }

  private add(value: FieldValue | undefined, sign: 1 | -1): void {
    if (this.kind === 'distinct') {
      if (value === undefined) return;
      const n = (this.counts.get(value) ?? 0) + sign;
      if (n === 0) this.counts.delete(value);
      else this.counts.set(value, n);
    } else if (this.kind === 'sum' && typeof value === 'number') addExact(this.acc, sign * value);
  }
}

/** The first index in `kept[0, end]` (sorted by ts) whose event is after `from` (binary search): where a span opens. */
export function firstAfter(kept: readonly SpanEvent[], from: number, end: number): number {
  let lo = 0;
  let hi = end + 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (kept[mid]!.ts > from) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * A double field's sum over kept[lo, hi) (the event at `index`, its exact duplicates after it), added in
 * (ts, id) order, the replay's frame order, and its duplicates last to first, as before the measure slid.
 */
export function doubleSum(kept: readonly SpanEvent[], lo: number, index: number, hi: number): number {
  let sum = 0;
  const add = (v: FieldValue | undefined) => { if (typeof v === 'number') sum += v; };
  for (let i = lo; i <= index; i++) add(kept[i]!.value);
  for (let i = hi - 1; i > index; i--) add(kept[i]!.value);
  return sum;
}
