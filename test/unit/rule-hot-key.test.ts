import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fraudMultiCountry, transactionsSchema } from '../../examples/seed.ts';
import { decodeLine } from '../../schemas/decode.ts';
import type { ResultRecord } from '../../schemas/results.ts';
import { createOperator } from '../../stream/operators/index.ts';
import { firstAfter, SpanMeasure, type SpanEvent } from '../../stream/operators/span-measure.ts';
import { ruleOracle, type Ev } from '../fixtures/oracles.ts';

const RUNS = Number(process.env.CONCORD_PROPERTY_RUNS ?? 200);

/** A kept array that counts how many of its events are read. */
function counted(events: SpanEvent[]): { kept: SpanEvent[]; reads: () => number } {
  let reads = 0;
  const kept = new Proxy(events, { get: (t, p, r) => { if (typeof p === 'string' && /^\d+$/.test(p)) reads++; return Reflect.get(t, p, r); } });
  return { kept, reads: () => reads };
}

// A key's measure was recomputed over its whole span at each decision: O(k^2) for k events in a span
// (one card with 20,000 transactions in 10 minutes held a worker's event loop for 18 s).
describe('the lookback rule slides its measure from one decision to the next', () => {
  it('in-order decisions of one hot key read each kept event a bounded number of times, not once per later decision', () => {
    const k = 5_000;
    const events: SpanEvent[] = Array.from({ length: k }, (_, i) => ({ ts: i, value: `C${i % 7}` }));
    const { kept, reads } = counted(events);
    const m = new SpanMeasure('distinct');
    let last = 0;
    for (let i = 0; i < k; i++) last = m.over(kept, firstAfter(kept, i - 1_000_000, i), i + 1).measure as number;
    expect(last).toBe(7);
    // Binary search (log k) plus one add: ~18 reads a decision here; a recomputation reads k^2 / 2 = 12.5M.
    expect(reads()).toBeLessThan(30 * k);
  });

  it('equals the measure recomputed over the range, whatever is inserted, removed or asked', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('insert' as const), ts: fc.integer({ min: 0, max: 50 }), value: fc.option(fc.integer({ min: -3, max: 3 }), { nil: undefined }) }),
      fc.record({ kind: fc.constant('remove' as const), n: fc.integer({ min: 0, max: 3 }) }),
      fc.record({ kind: fc.constant('measure' as const), a: fc.nat(), b: fc.nat() }),
    );
    fc.assert(fc.property(fc.constantFrom('distinct' as const, 'count' as const, 'sum' as const), fc.array(op, { maxLength: 80 }), (kind, ops) => {
      const kept: SpanEvent[] = [];
      const m = new SpanMeasure(kind);
      for (const o of ops) {
        if (o.kind === 'insert') {
          let i = kept.length;
          while (i > 0 && kept[i - 1]!.ts > o.ts) i--;
          kept.splice(i, 0, { ts: o.ts, value: o.value });
          m.inserted(i);
        } else if (o.kind === 'remove') {
          const n = Math.min(o.n, kept.length);
          kept.splice(0, n);
          m.removed(n);
        } else if (kept.length > 0) {
          const hi = 1 + (o.b % kept.length);
          const lo = o.a % hi;
          const range = kept.slice(lo, hi).map((e) => e.value);
          const got = m.over(kept, lo, hi);
          const numbers = range.filter((v): v is number => typeof v === 'number');
          if (kind === 'count') expect(got.measure).toBe(hi - lo);
          else if (kind === 'sum') expect(got.measure).toBe(numbers.reduce((a, b) => a + b, 0));
          else expect(new Set(got.distinct!())).toEqual(new Set(numbers));
        }
      }
    }), { numRuns: RUNS });
  });

  it('a hot card (6,000 transactions an hour, out of order within B, some late within L) alerts as the rule over complete data says', () => {
    const def = fraudMultiCountry();
    const alerts: ResultRecord[] = [];
    const op = createOperator(def, { result: (r) => alerts.push(r), late: () => undefined });
    const T0 = Date.UTC(2026, 11, 5);
    const evs: Ev[] = [];
    for (let i = 0; i < 6_000; i++) {
      // 10-minute phases from 5 countries, then 15 minutes from one: an alert at the start of each busy phase.
      const minute = Math.floor(i / 100);
      const phase = minute % 25;
      // Late within L (evaluated once on arrival), mid-phase and from US, a country every span holds
      // anyway: no decision over complete data differs, so the oracle's alerts are the stream's.
      const late = i % 101 === 0 && ((phase >= 3 && phase <= 7) || (phase >= 14 && phase <= 22));
      const jitter = late ? -120_000 : i % 13 === 0 ? -20_000 : 0; // and out of order within B
      const ts = T0 + i * 600 + jitter;
      const country = phase < 10 && !late ? ['US', 'DE', 'FR', 'GB', 'JP'][i % 5]! : 'US';
      const id = `t${String(i).padStart(5, '0')}`;
      evs.push({ id, ts, key: 'hot', value: country });
      const d = decodeLine(transactionsSchema, JSON.stringify({ txn_id: id, ts, user_id: 'hot', country, amount: '1.00' }), { source: 't', offset: i });
      if (!d.ok) throw new Error(d.deadLetter.reason);
      op.process(d.event, { source: 't', offset: i });
    }
    op.finish();
    const expected = ruleOracle(evs, def.rule.span, def.rule.threshold);
    const got = new Map(alerts.map((a) => (a.kind === 'alert' ? [`hot|${a.id}`, a.value as string[]] : ['', []])));
    expect(expected.size).toBeGreaterThan(1);
    expect(got).toEqual(expected);
  });
});
