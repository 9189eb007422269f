import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isDecided } from '../../pipeline/lateness.ts';
import { compareUtf8 } from '../../pipeline/ordering.ts';
import { clicksSchema, transactionsSchema } from '../../examples/seed.ts';
import { validateEvent } from '../../schemas/schema.ts';
import {
  DAY, batchSizesArb, clickStreamArb, splitIntoBatches, toJsonl, transactionStreamArb, type StreamArbOptions,
} from '../fixtures/arbitraries.ts';
import { lateIndexes, type Ev } from '../fixtures/oracles.ts';

type Raw = Record<string, unknown>;
const asEv = (events: readonly Raw[]): Ev[] => events.map((e) => ({ id: String(e.event_id ?? e.txn_id), ts: e.ts as number, key: '', value: '' }));

/** The largest (max ts before the event) - ts over a stream in arrival order. */
function maxDisorder(events: readonly Raw[]): number {
  let max = -Infinity, worst = 0;
  for (const e of events) {
    const ts = e.ts as number;
    worst = Math.max(worst, max - ts);
    max = Math.max(max, ts);
  }
  return worst;
}

/** Any event late under W = max(ts) - B - 1: for a window of `size` (with L) or for a rule. */
function anyLate(events: readonly Raw[], B: number, L: number): boolean {
  let w = -Infinity;
  for (const e of events) {
    const ts = e.ts as number;
    if (isDecided(ts, w)) return true;
    w = Math.max(w, ts - B - 1);
  }
  return lateIndexes(asEv(events), 60_000, B, L).size > 0 || lateIndexes(asEv(events), 300_000, B, L).size > 0;
}

const streams = (opts: StreamArbOptions) => [
  ['clicks', clickStreamArb(opts)],
  ['transactions', transactionStreamArb(opts)],
] as const;

describe("stream arbitraries: the 'within' contract", () => {
  for (const B of [30_000, 5_000, 1, 0]) {
    it.each(streams({ maxOutOfOrderness: B, allowedLateness: 0, disorder: 'within' }))(`%s with B = ${B}: ts >= max so far - B, nothing late even with L = 0`, (_name, arb) => {
      fc.assert(
        fc.property(arb, (events) => {
          expect(events.length).toBeGreaterThan(0);
          expect(events.length).toBeLessThanOrEqual(300);
          expect(maxDisorder(events)).toBeLessThanOrEqual(B);
          expect(anyLate(events, B, 0)).toBe(false);
        }),
        { numRuns: 300, seed: 20261124 + B },
      );
    });
  }

  it('uses the whole allowed range: disorder of exactly B occurs', () => {
    const samples = fc.sample(clickStreamArb({ maxOutOfOrderness: 30_000, disorder: 'within' }), { numRuns: 200, seed: 1 });
    expect(samples.some((s) => maxDisorder(s) === 30_000)).toBe(true);
    expect(samples.filter((s) => maxDisorder(s) > 0).length).toBeGreaterThan(150);
  });
});

describe("stream arbitraries: 'beyond'", () => {
  it.each(streams({ maxOutOfOrderness: 30_000, allowedLateness: 300_000, disorder: 'beyond' }))('%s: often has late events, beyond B + L', (_name, arb) => {
    const samples = fc.sample(arb, { numRuns: 300, seed: 2 });
    const withLate = samples.filter((s) => lateIndexes(asEv(s), 60_000, 30_000, 300_000).size > 0).length;
    expect(withLate).toBeGreaterThan(60);
    expect(samples.filter((s) => maxDisorder(s) > 30_000 + 300_000).length).toBeGreaterThan(60);
  });
});

describe('stream arbitraries: shape', () => {
  const clicks = fc.sample(clickStreamArb({ maxOutOfOrderness: 30_000, disorder: 'beyond' }), { numRuns: 300, seed: 3 });
  const txns = fc.sample(transactionStreamArb({ maxOutOfOrderness: 30_000, disorder: 'beyond' }), { numRuns: 300, seed: 4 });
  const all = [...clicks, ...txns];

  it('events validate against their schemas; ids unique per stream; ts are integers', () => {
    for (const s of clicks) {
      for (const e of s) validateEvent(clicksSchema, JSON.parse(JSON.stringify(e)));
      expect(new Set(s.map((e) => e.event_id)).size).toBe(s.length);
    }
    for (const s of txns) {
      for (const e of s) validateEvent(transactionsSchema, JSON.parse(JSON.stringify(e)));
      expect(new Set(s.map((e) => e.txn_id)).size).toBe(s.length);
    }
    expect(all.every((s) => s.every((e) => Number.isSafeInteger(e.ts)))).toBe(true);
  });

  it('sits on window boundaries and 1 ms either side, ties, and crosses midnight', () => {
    const ts = all.flatMap((s) => s.map((e) => e.ts as number));
    const share = (f: (t: number) => boolean) => ts.filter(f).length / ts.length;
    expect(share((t) => t % 60_000 === 0)).toBeGreaterThan(0.03);
    expect(share((t) => t % 60_000 === 1)).toBeGreaterThan(0.01);
    expect(share((t) => t % 60_000 === 59_999)).toBeGreaterThan(0.01);
    expect(share((t) => t % 300_000 === 0)).toBeGreaterThan(0.01);
    expect(share((t) => t % 300_000 === 299_999)).toBeGreaterThan(0.005);
    const withTies = all.filter((s) => new Set(s.map((e) => e.ts)).size < s.length).length;
    expect(withTies / all.length).toBeGreaterThan(0.5);
    const acrossMidnight = all.filter((s) => s.some((e) => (e.ts as number) < DAY) && s.some((e) => (e.ts as number) >= DAY)).length;
    expect(acrossMidnight).toBeGreaterThan(10);
    // Spans from a few minutes to hours.
    const spans = all.map((s) => Math.max(...s.map((e) => e.ts as number)) - Math.min(...s.map((e) => e.ts as number)));
    expect(spans.filter((x) => x < 10 * 60_000 && x > 0).length).toBeGreaterThan(20);
    expect(spans.filter((x) => x > 60 * 60_000).length).toBeGreaterThan(20);
  });

  it('small domains collide; txn ids are non-ASCII sometimes and out of arrival order', () => {
    const distinct = (k: string, ss: readonly Raw[][]) => new Set(ss.flatMap((s) => s.map((e) => e[k]))).size;
    expect(distinct('url', clicks)).toBeLessThanOrEqual(5);
    expect(distinct('visitor_id', clicks)).toBeLessThanOrEqual(20);
    expect(distinct('user_id', txns)).toBeLessThanOrEqual(4);
    expect(distinct('country', txns)).toBeLessThanOrEqual(6);
    const ids = txns.flatMap((s) => s.map((e) => String(e.txn_id)));
    expect(ids.some((id) => /[^\x00-\x7f]/.test(id))).toBe(true);
    expect(ids.some((id) => /\p{Extended_Pictographic}/u.test(id))).toBe(true);
    // An id pair whose UTF-8 order differs from JavaScript's UTF-16 order.
    const prefixes = [...new Set(ids.map((id) => id.split('-')[0]!))];
    expect(prefixes.some((a) => prefixes.some((b) => (a < b) !== (compareUtf8(a, b) < 0)))).toBe(true);
    const outOfOrder = txns.filter((s) => s.some((e, i) => i > 0 && String(e.txn_id) < String(s[i - 1]!.txn_id))).length;
    expect(outOfOrder / txns.length).toBeGreaterThan(0.5);
    expect(txns.some((s) => s.some((e) => typeof e.amount === 'number')) && txns.some((s) => s.some((e) => typeof e.amount === 'string'))).toBe(true);
  });

  it('toJsonl gives one JSON line per event', () => {
    const s = txns.find((x) => x.length > 3)!;
    const lines = toJsonl(s);
    expect(lines).toHaveLength(s.length);
    expect(lines.map((l) => JSON.parse(l))).toEqual(s);
    expect(lines.every((l) => !l.includes('\n'))).toBe(true);
  });
});

describe('batchSizesArb and splitIntoBatches', () => {
  it('sizes are positive integers; splitting loses and reorders nothing', () => {
    fc.assert(
      fc.property(batchSizesArb(), fc.array(fc.nat(), { maxLength: 500 }), (sizes, items) => {
        expect(sizes.length).toBeGreaterThan(0);
        expect(sizes.every((s) => Number.isInteger(s) && s >= 1 && s <= 400)).toBe(true);
        const batches = splitIntoBatches(items, sizes);
        expect(batches.flat()).toEqual(items);
        expect(batches.every((b) => b.length > 0)).toBe(true);
        batches.slice(0, -1).forEach((b, i) => expect(b.length).toBe(sizes[i % sizes.length]));
      }),
      { numRuns: 300 },
    );
    expect(() => splitIntoBatches([1], [0])).toThrow(RangeError);
  });
});
