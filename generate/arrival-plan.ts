import type { SeededRandom } from './random.ts';

/**
 * When each generated event arrives: event-time order, then which events arrive out of order (within
 * B) or late (beyond B + L), and the arrival order that results. It lives apart from the line
 * producers because the placement rules are the subtle part, and their exact out-of-order and late
 * counts are what the generated day's stats promise; the producers only choose event times and fields.
 */

/** The day's options that shape arrivals (see `DayOptions` in realistic-day.ts). */
export interface ArrivalOptions {
  outOfOrderFraction: number;
  lateFraction: number;
  maxOutOfOrderness: number;
  allowedLateness: number;
}

/** The longest built-in window: a late event is delayed past B + L + this, so it is late for every built-in pipeline. */
const LONGEST_WINDOW = 300_000;
/** Margin on top of B + L + the longest window, so late events are late with room to spare. */
const LATE_SLACK = 30_000;
/** Late events are delayed up to this much more than the minimum late delay (so 11 .. 95 minutes with the defaults). */
const LATE_SPREAD = 84 * 60_000;

/**
 * Sorts events by time. `offsets[i]` is event i's ms since the day start (integer, < 2^27);
 * returns the event indexes in time order (ties by index) and the sorted offsets.
 * One Float64Array sort of `offset * 2^k + index` keys: exact below 2^53, and far faster than a comparator.
 */
export function timeOrder(offsets: Float64Array): { byTime: Int32Array; sortedOffsets: Float64Array } {
  const n = offsets.length;
  const scale = 2 ** Math.max(1, Math.ceil(Math.log2(n + 1)));
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = offsets[i]! * scale + i;
  keys.sort();
  const byTime = new Int32Array(n);
  const sortedOffsets = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const k = keys[j]!;
    const offset = Math.floor(k / scale);
    sortedOffsets[j] = offset;
    byTime[j] = k - offset * scale;
  }
  return { byTime, sortedOffsets };
}

export interface ArrivalPlan {
  /** Arrival position -> time rank. */
  order: Int32Array;
  outOfOrder: number;
  late: number;
}

/** First position in `list` (time ranks, ascending) whose event time is > t (strict) or >= t; list.length if none. */
function firstAfter(sortedOffsets: Float64Array, list: Int32Array, t: number, strict: boolean): number {
  let lo = 0, hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const ts = sortedOffsets[list[mid]!]!;
    if (strict ? ts > t : ts >= t) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

const ON_TIME = 0, OUT_OF_ORDER = 1, LATE = 2;

/** Time ranks of the given kind, ascending; with `validOnly`, malformed lines are left out. */
function ranksOf(kind: Uint8Array, which: number, invalid: Uint8Array | undefined, validOnly: boolean): Int32Array {
  const keep = (j: number) => kind[j] === which && !(validOnly && invalid !== undefined && invalid[j] === 1);
  let count = 0;
  for (let j = 0; j < kind.length; j++) if (keep(j)) count++;
  const out = new Int32Array(count);
  for (let j = 0, k = 0; j < kind.length; j++) if (keep(j)) out[k++] = j;
  return out;
}

/**
 * Decides each event's arrival: on time (at its own time), out of order (delayed by d < B), or late
 * (delayed by B + L + 5.5 min up to 84 min more: "offline clients syncing later").
 *
 * - An on-time event arrives after every event with a smaller ts: on-time events are never out of order.
 * - An out-of-order event arrives after every on-time event with ts <= its ts + d, where d is drawn
 *   from [g + 1, B - 1] and g is the gap to the next valid on-time event with a larger ts: it really
 *   is out of order, and the largest ts seen before it is below ts + B, so it is never late. Where the
 *   next event is B - 1 or more away (sparse streams), it cannot be out of order within B and stays
 *   on time.
 * - A late event arrives right after the first valid on-time event with ts >= its ts + d: the largest
 *   ts seen before it is at least ts + B + L + 5.5 min, so W - L >= ts + 5.5 min - 1: it is late for
 *   a rule and for every window up to 5 minutes, whatever the gaps between events. The last valid
 *   event is always on time, and only events with room for the delay before it can be late.
 * - Malformed lines (`invalid`) arrive at their own time and are never used to place others, as a
 *   runtime rejects them without moving its watermark.
 *
 * So the counts returned are exact: valid events seen out of order within B, and valid events seen
 * beyond B + L. `lateCandidate` (by time rank) restricts who can be late; the probability is scaled
 * so that `lateFraction` of all events are late in expectation.
 */
export function planArrivals(
  sortedOffsets: Float64Array, random: SeededRandom, o: ArrivalOptions,
  lateCandidate?: (rank: number) => boolean, invalid?: Uint8Array,
): ArrivalPlan {
  const n = sortedOffsets.length;
  const identity = () => ({ order: Int32Array.from({ length: n }, (_, j) => j), outOfOrder: 0, late: 0 });
  let lastValid = n - 1;
  while (lastValid >= 0 && invalid?.[lastValid] === 1) lastValid--;
  if (lastValid < 0) return identity();
  const B = o.maxOutOfOrderness;
  const minLate = B + o.allowedLateness + LONGEST_WINDOW + LATE_SLACK;
  const last = sortedOffsets[lastValid]!;
  let candidates = 0;
  for (let j = 0; j < n; j++) if (invalid?.[j] !== 1 && (!lateCandidate || lateCandidate(j))) candidates++;
  const pLate = candidates === 0 ? 0 : Math.min(1, (o.lateFraction * n) / candidates);
  const pDisorder = B > 1 ? o.outOfOrderFraction : 0;

  // Pass 1: who is on time, out of order, late; and where in its delay range each delayed event falls.
  const kind = new Uint8Array(n);
  const where = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const r = random.next();
    if (j >= lastValid || invalid?.[j] === 1) continue;
    if (r < pLate && last - sortedOffsets[j]! >= minLate && (!lateCandidate || lateCandidate(j))) {
      kind[j] = LATE;
      where[j] = random.next();
    } else if (r >= 1 - pDisorder) {
      kind[j] = OUT_OF_ORDER;
      where[j] = random.next();
    }
  }

  // Pass 2: an out-of-order delay must pass the next later valid on-time event, and stay below B.
  const displacedRank: number[] = [];
  const displacedArrival: number[] = [];
  const anchorsBefore = ranksOf(kind, ON_TIME, invalid, true);
  let outOfOrder = 0;
  for (let j = 0; j < n; j++) {
    if (kind[j] !== OUT_OF_ORDER) continue;
    const ts = sortedOffsets[j]!;
    const next = firstAfter(sortedOffsets, anchorsBefore, ts, true);
    const gap = next < anchorsBefore.length ? sortedOffsets[anchorsBefore[next]!]! - ts : Number.POSITIVE_INFINITY;
    if (gap + 1 <= B - 1) {
      displacedRank.push(j);
      displacedArrival.push(ts + gap + 1 + Math.floor(where[j]! * (B - 1 - gap)));
      outOfOrder++;
    } else {
      kind[j] = ON_TIME; // the events it passes are still on time, so the delays above stay valid
    }
  }

  // Late events: right after the first valid on-time event at or after ts + d (the last valid event is one).
  const anchors = ranksOf(kind, ON_TIME, invalid, true);
  let late = 0;
  for (let j = 0; j < n; j++) {
    if (kind[j] !== LATE) continue;
    const ts = sortedOffsets[j]!;
    const a = ts + minLate + Math.floor(where[j]! * (Math.min(last - ts - minLate, LATE_SPREAD) + 1));
    displacedRank.push(j);
    displacedArrival.push(sortedOffsets[anchors[firstAfter(sortedOffsets, anchors, a, false)]!]!);
    late++;
  }

  const displaced = displacedRank.map((_, i) => i);
  displaced.sort((a, b) => displacedArrival[a]! - displacedArrival[b]! || displacedRank[a]! - displacedRank[b]!);
  // Merge: a displaced event with arrival time a comes after every on-time event with ts <= a.
  const onTime = ranksOf(kind, ON_TIME, invalid, false);
  const order = new Int32Array(n);
  let i = 0, d = 0, k = 0;
  while (i < onTime.length || d < displaced.length) {
    const next = displaced[d];
    if (next !== undefined && (i >= onTime.length || displacedArrival[next]! < sortedOffsets[onTime[i]!]!)) {
      order[k++] = displacedRank[next]!;
      d++;
    } else {
      order[k++] = onTime[i++]!;
    }
  }
  return { order, outOfOrder, late };
}
