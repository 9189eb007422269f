import { detached } from '../schemas/flat-json.ts';
import { unitScale, type AnyEvent, type EventSchema } from '../schemas/schema.ts';
import { DefinitionError } from './errors.ts';
import { DEFAULT_HLL_PRECISION, HyperLogLog, checkPrecision } from './hyperloglog.ts';
import { LogHistogram, checkQuantile, percentileOfBuckets } from './log-histogram.ts';

/** Aggregates are tagged plain data; `aggregateFunction` gives their mergeable, serialisable semantics. */
export type AggregateSpec =
  | { readonly kind: 'count' }
  | { readonly kind: 'sum'; readonly field: string }
  | { readonly kind: 'min'; readonly field: string }
  | { readonly kind: 'max'; readonly field: string }
  | { readonly kind: 'avg'; readonly field: string }
  | { readonly kind: 'count_distinct'; readonly field: string }
  | { readonly kind: 'approx_distinct'; readonly field: string; readonly precision?: number }
  | { readonly kind: 'approx_percentile'; readonly field: string; readonly quantile: number };

export const count = (): AggregateSpec => ({ kind: 'count' });
export const sum = (field: string): AggregateSpec => ({ kind: 'sum', field });
export const min = (field: string): AggregateSpec => ({ kind: 'min', field });
export const max = (field: string): AggregateSpec => ({ kind: 'max', field });
export const avg = (field: string): AggregateSpec => ({ kind: 'avg', field });
export const countDistinct = (field: string): AggregateSpec => ({ kind: 'count_distinct', field });
export const approxDistinct = (field: string, precision = DEFAULT_HLL_PRECISION): AggregateSpec => ({
  kind: 'approx_distinct',
  field,
  precision,
});
export const approxPercentile = (field: string, quantile: number): AggregateSpec => ({ kind: 'approx_percentile', field, quantile });

/**
 * Beam's CombineFn shape plus serialisation for checkpoints. Accumulators are mutable for speed:
 * `add` and `merge` update `acc` in place.
 */
export interface AggregateFunction<A> {
  create(): A;
  add(acc: A, event: AnyEvent): A;
  merge(into: A, other: A): A;
  /** The output value; `null` when undefined (e.g. min over no numeric values). */
  result(acc: A): number | null;
  serialize(acc: A): unknown;
  /**
   * Optional: `JSON.stringify(serialize(acc))`, given without stringifying (a sketch's 22 KB of text kept
   * until a register changes: a fired pane's partial is re-sent for every event it takes).
   */
  serializedJson?(acc: A): string;
  deserialize(data: unknown): A;
}

interface Counter { n: number }
/** A sum with the number of non-null values it holds (0: the sum is null, as in SQL). */
interface Sum { s: number; c: number }
/**
 * An exact integer sum (int fields, decimal minor units) with the number of non-null values it holds:
 * the total is `b + s`, where `s` stays a safe integer (the hot path: plain number additions) and `b`
 * takes over whatever would leave the safe range (0n until a total passes 2^53 - 1).
 */
interface ExactSum { s: number; b: bigint; c: number }
interface Extreme { v: number | null }

function numeric(event: AnyEvent, field: string): number | undefined {
  const v = event[field];
  return typeof v === 'number' ? v : undefined;
}

const countFn: AggregateFunction<Counter> = {
  create: () => ({ n: 0 }),
  add: (acc) => { acc.n++; return acc; },
  merge: (into, other) => { into.n += other.n; return into; },
  result: (acc) => acc.n,
  serialize: (acc) => acc.n,
  deserialize: (data) => ({ n: Number(data) }),
};

/**
 * Adds the safe integer `v` to the exact sum `acc` (`s` stays a safe integer: a total that leaves the safe
 * range moves to `b`). Both operands are safe integers, so `s + v` is exact whenever it is a safe integer.
 */
export function addExact(acc: { s: number; b: bigint }, v: number): void {
  const t = acc.s + v;
  if (Number.isSafeInteger(t)) acc.s = t;
  else { acc.b += BigInt(acc.s) + BigInt(v); acc.s = 0; }
}

/** An exact sum's total as the double nearest it (`Number` of a bigint rounds to nearest, ties to even). */
export function exactTotal(acc: { s: number; b: bigint }): number {
  return acc.b === 0n ? acc.s : Number(acc.b + BigInt(acc.s));
}

/**
 * sum and avg of a `double` field: plain double additions (their last bits depend on the order of
 * additions; runtimes agree within FLOAT_TOLERANCE).
 */
function floatSumFn(field: string, average: boolean): AggregateFunction<Sum> {
  return {
    create: () => ({ s: 0, c: 0 }),
    add: (acc, e) => {
      const v = numeric(e, field);
      if (v !== undefined) { acc.s += v; acc.c++; }
      return acc;
    },
    merge: (into, other) => { into.s += other.s; into.c += other.c; return into; },
    result: (acc) => (acc.c === 0 ? null : average ? acc.s / acc.c : acc.s),
    serialize: (acc) => [acc.s, acc.c],
    deserialize: (data) => { const [s, c] = data as [number, number]; return { s, c }; },
  };
}

/**
 * sum and avg of an `int` or `decimal(N)` field, in output units: summed exactly (as minor units for
 * decimals, past 2^53 too), then the double nearest the exact total divided by 10^N once at the end
 * (sum / scale, avg = sum / (count * scale)), the same operations the replay's SQL does
 * (`exactDoubleSql`). Serialised as `[total, count]`, the total a number while it is a safe integer and
 * its decimal text beyond (checkpoints and partials are JSON), so restores and partial merges stay exact.
 */
function exactSumFn(field: string, scale: number, average: boolean): AggregateFunction<ExactSum> {
  return {
    create: () => ({ s: 0, b: 0n, c: 0 }),
    add: (acc, e) => {
      const v = numeric(e, field);
      if (v !== undefined) {
        // addExact, inlined by hand: the hot path of every int and decimal sum.
        const t = acc.s + v;
        if (t <= Number.MAX_SAFE_INTEGER && t >= -Number.MAX_SAFE_INTEGER) acc.s = t;
        else { acc.b += BigInt(acc.s) + BigInt(v); acc.s = 0; }
        acc.c++;
      }
      return acc;
    },
    merge: (into, other) => {
      addExact(into, other.s);
      if (other.b !== 0n) into.b += other.b;
      into.c += other.c;
      return into;
    },
    result: (acc) => (acc.c === 0 ? null : average ? exactTotal(acc) / (acc.c * scale) : exactTotal(acc) / scale),
    serialize: (acc) => [acc.b === 0n ? acc.s : String(acc.b + BigInt(acc.s)), acc.c],
    deserialize: (data) => {
      const [s, c] = data as [number | string, number];
      // A number beyond the safe range (a checkpoint written before sums were exact) is an integer too.
      return typeof s === 'number' && Number.isSafeInteger(s) ? { s, b: 0n, c } : { s: 0, b: BigInt(s), c };
    },
  };
}

function extremeFn(field: string, pick: (a: number, b: number) => number, scale: number): AggregateFunction<Extreme> {
  const combine = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : pick(a, b));
  return {
    create: () => ({ v: null }),
    add: (acc, e) => { acc.v = combine(acc.v, numeric(e, field) ?? null); return acc; },
    merge: (into, other) => { into.v = combine(into.v, other.v); return into; },
    result: (acc) => (acc.v === null ? null : acc.v / scale),
    serialize: (acc) => acc.v,
    deserialize: (data) => ({ v: data === null ? null : Number(data) }),
  };
}

function distinctFn(field: string): AggregateFunction<Set<string>> {
  return {
    create: () => new Set(),
    add: (acc, e) => {
      const v = e[field];
      if (v !== undefined) {
        const text = String(v);
        if (!acc.has(text)) acc.add(detached(text)); // held for the window's life, not its line's
      }
      return acc;
    },
    merge: (into, other) => { for (const v of other) into.add(v); return into; },
    result: (acc) => acc.size,
    serialize: (acc) => [...acc],
    deserialize: (data) => new Set(data as string[]),
  };
}

function approxDistinctFn(field: string, precision: number): AggregateFunction<HyperLogLog> {
  return {
    create: () => new HyperLogLog(precision),
    add: (acc, e) => { const v = e[field]; if (v !== undefined) acc.add(String(v)); return acc; },
    merge: (into, other) => { into.merge(other); return into; },
    result: (acc) => acc.estimate(),
    serialize: (acc) => acc.serialize(),
    serializedJson: (acc) => acc.serializedJson(),
    deserialize: (data) => HyperLogLog.deserialize(String(data)),
  };
}

/**
 * approx_percentile of a numeric field: a log-linear histogram of the values (decimals as their minor
 * units, exact integers), the estimate by `percentileOfBuckets`, the function the replay calls on its SQL
 * histogram, then in major units.
 */
function approxPercentileFn(field: string, quantile: number, scale: number): AggregateFunction<LogHistogram> {
  return {
    create: () => new LogHistogram(),
    add: (acc, e) => { const v = numeric(e, field); if (v !== undefined) acc.add(v); return acc; },
    merge: (into, other) => { into.merge(other); return into; },
    result: (acc) => { const v = percentileOfBuckets(acc.counts, quantile); return v === null ? null : v / scale; },
    serialize: (acc) => acc.serialize(),
    deserialize: (data) => LogHistogram.deserialize(data),
  };
}

/** The function of an aggregate over `schema`'s events (decimal fields give results in major units). */
export function aggregateFunction(spec: AggregateSpec, schema: EventSchema): AggregateFunction<unknown> {
  const scale = spec.kind === 'count' ? 1 : unitScale(schema.fields[spec.field]);
  switch (spec.kind) {
    case 'count':
      return countFn as AggregateFunction<unknown>;
    case 'sum':
    case 'avg':
      return (schema.fields[spec.field]?.kind === 'double'
        ? floatSumFn(spec.field, spec.kind === 'avg')
        : exactSumFn(spec.field, scale, spec.kind === 'avg')) as AggregateFunction<unknown>;
    case 'min':
      return extremeFn(spec.field, Math.min, scale) as AggregateFunction<unknown>;
    case 'max':
      return extremeFn(spec.field, Math.max, scale) as AggregateFunction<unknown>;
    case 'count_distinct':
      return distinctFn(spec.field) as AggregateFunction<unknown>;
    case 'approx_distinct': {
      const p = spec.precision ?? DEFAULT_HLL_PRECISION;
      checkPrecision(p);
      return approxDistinctFn(spec.field, p) as AggregateFunction<unknown>;
    }
    case 'approx_percentile':
      if (!checkQuantile(spec.quantile)) throw new DefinitionError(`approx_percentile quantile must be a number in (0, 1], got ${spec.quantile}`);
      return approxPercentileFn(spec.field, spec.quantile, scale) as AggregateFunction<unknown>;
    default:
      throw new DefinitionError(`unknown aggregate ${JSON.stringify(spec)}`);
  }
}

/** Sums and averages of `double` fields depend on the order of additions: runtimes agree within this, relative. */
export const FLOAT_TOLERANCE = 1e-9;

/** Whether an aggregate's value is compared with `FLOAT_TOLERANCE` (sum or avg over a double field). */
export function isFloatingAggregate(spec: AggregateSpec, schema: EventSchema): boolean {
  return (spec.kind === 'sum' || spec.kind === 'avg') && schema.fields[spec.field]?.kind === 'double';
}

/** A rule's `sum` of a `double` field: double additions (a rule's sum of an int or decimal field is exact). */
export function isFloatingRuleSum(rule: { readonly measure: string; readonly field?: string }, schema: EventSchema): boolean {
  return rule.measure === 'sum' && schema.fields[rule.field ?? '']?.kind === 'double';
}

/** Equal values, or within `FLOAT_TOLERANCE` relative when `floating` (null only equals null). */
export function sameNumber(a: number | null | undefined, b: number | null | undefined, floating: boolean): boolean {
  if (a === b) return true;
  if (!floating || typeof a !== 'number' || typeof b !== 'number') return false;
  return Math.abs(a - b) <= FLOAT_TOLERANCE * Math.max(Math.abs(a), Math.abs(b));
}
