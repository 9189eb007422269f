import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { fraudMultiCountry, pageViewsPerMinute, uniqueVisitors5m } from '../../examples/seed.ts';
import { withTiming, type PipelineDefinition } from '../../pipeline/definition.ts';
import { cellKey, resultToJson, type AlertResult, type ResultRecord, type WindowResult } from '../../schemas/results.ts';
import { clickStreamArb, toJsonl, transactionStreamArb } from '../fixtures/arbitraries.ts';
import { lateIndexes, ruleOracle, windowOracle, type Ev } from '../fixtures/oracles.ts';
import { runBoth, streamLines } from '../fixtures/run-both.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

const ws = tempWorkspace();
afterAll(() => ws.cleanup());
let runNo = 0;
const archiveDir = () => join(ws.dir, `run-${runNo++}`);

const B = 30_000;
const RUNS = Number(process.env.CONCORD_PROPERTY_RUNS ?? 200);
const lateness = fc.constantFrom(0, 1, 60_000, 300_000);
type Raw0 = Record<string, unknown>;
/** A lateness L and a stream whose far lags are aimed at that L (B + L boundaries, +-1 ms). */
const lateStream = (make: (L: number) => fc.Arbitrary<Raw0[]>) => lateness.chain((L) => make(L).map((events) => [events, L] as const));
const clicksBeyond = lateStream((L) => clickStreamArb({ maxOutOfOrderness: B, allowedLateness: L, disorder: 'beyond' }));
const txnsBeyond = lateStream((L) => transactionStreamArb({ maxOutOfOrderness: B, allowedLateness: L, disorder: 'beyond' }));
// A failure shrinks (every shrink step runs DuckDB), but never for longer than the test may take.
const opts = (numRuns: number) => ({ numRuns, interruptAfterTimeLimit: 200_000, markInterruptAsFailure: true });

type Raw = Record<string, unknown>;
const clickEv = (e: Raw, key: 'url' | 'none'): Ev => ({ id: String(e.event_id), ts: Number(e.ts), key: key === 'url' ? String(e.url) : '', value: String(e.visitor_id) });
const txnEv = (e: Raw): Ev => ({ id: String(e.txn_id), ts: Number(e.ts), key: String(e.user_id), value: String(e.country) });

function windowCells(results: readonly ResultRecord[], output: string, keyField?: string): Map<string, number> {
  return new Map(
    (results as WindowResult[]).map((r) => [`${r.windowStart}|${keyField ? String(r.key[keyField]) : ''}`, r.values[output] as number]),
  );
}

function alertCells(results: readonly ResultRecord[]): Map<string, string[]> {
  return new Map((results as AlertResult[]).map((r) => [`${String(r.key.user_id)}|${r.id}`, [...(r.value as string[])]]));
}

const sorted = <V>(m: Map<string, V>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

const windowed = [
  { def: pageViewsPerMinute, size: 60_000, output: 'views', agg: 'count' as const, key: 'url' as const },
  { def: uniqueVisitors5m(), size: 300_000, output: 'visitors', agg: 'hll' as const, key: 'none' as const },
];

describe.each(windowed)('property: $def.name', ({ def: base, size, output, agg, key }) => {
  it(`disorder < B: stream final == replay == oracle, nothing late, 0 differences (${RUNS} runs)`, async () => {
    await fc.assert(
      fc.asyncProperty(clickStreamArb({ maxOutOfOrderness: B, allowedLateness: 0, disorder: 'within' }), lateness, async (events, L) => {
        const def = withTiming(base, { maxOutOfOrderness: B, allowedLateness: L });
        const both = await runBoth(def, toJsonl(events), archiveDir());
        const oracle = windowOracle(events.map((e) => clickEv(e, key)), size, agg);
        expect(both.lates).toEqual([]);
        expect(sorted(windowCells(both.final, output, key === 'url' ? 'url' : undefined))).toEqual(sorted(oracle));
        expect(sorted(windowCells(both.replayed, output, key === 'url' ? 'url' : undefined))).toEqual(sorted(oracle));
        expect(both.report.different).toBe(0);
      }),
      opts(RUNS),
    );
  }, 300_000);

  it('late events: stream == oracle without exactly the late events; replay == oracle; reconcile explains 100%', async () => {
    await fc.assert(
      fc.asyncProperty(clicksBeyond, async ([events, L]) => {
        const def = withTiming(base, { maxOutOfOrderness: B, allowedLateness: L });
        const both = await runBoth(def, toJsonl(events), archiveDir());
        const evs = events.map((e) => clickEv(e, key));
        const late = lateIndexes(evs, size, B, L);
        expect(both.lates.map((l) => l.event.event_id).sort()).toEqual([...late].map((i) => evs[i]!.id).sort());
        expect(sorted(windowCells(both.final, output, key === 'url' ? 'url' : undefined))).toEqual(sorted(windowOracle(evs, size, agg, late)));
        expect(sorted(windowCells(both.replayed, output, key === 'url' ? 'url' : undefined))).toEqual(sorted(windowOracle(evs, size, agg)));
        expect(both.report.unexplained).toBe(0);
        for (const d of both.report.differences) expect(d.late_events.length).toBeGreaterThan(0);
        expect(both.report.late_events).toBe(late.size);
      }),
      opts(Math.ceil(RUNS / 2)),
    );
  }, 300_000);
});

describe('property: fraud_multi_country', () => {
  const base = fraudMultiCountry();
  const span = base.kind === 'rule' ? base.rule.span : 0;

  it(`disorder < B: stream alerts == replay alerts == oracle (${RUNS} runs)`, async () => {
    await fc.assert(
      fc.asyncProperty(transactionStreamArb({ maxOutOfOrderness: B, allowedLateness: 0, disorder: 'within' }), lateness, async (events, L) => {
        const def = withTiming(base, { maxOutOfOrderness: B, allowedLateness: L });
        const both = await runBoth(def, toJsonl(events), archiveDir());
        const oracle = ruleOracle(events.map(txnEv), span, 3);
        expect(both.lates).toEqual([]);
        expect((both.final as AlertResult[]).some((a) => a.late)).toBe(false);
        expect(sorted(alertCells(both.final))).toEqual(sorted(oracle));
        expect(sorted(alertCells(both.replayed))).toEqual(sorted(oracle));
        expect(both.report.different).toBe(0);
      }),
      opts(RUNS),
    );
  }, 300_000);

  it('late transactions: users without late transactions get the oracle alerts; every difference is explained', async () => {
    await fc.assert(
      fc.asyncProperty(txnsBeyond, async ([events, L]) => {
        const def = withTiming(base, { maxOutOfOrderness: B, allowedLateness: L });
        const both = await runBoth(def, toJsonl(events), archiveDir());
        const evs = events.map(txnEv);
        const oracle = ruleOracle(evs, span, 3);
        expect(sorted(alertCells(both.replayed))).toEqual(sorted(oracle));
        // Users with a late transaction (ts <= W on arrival) may differ; everyone else must not.
        const lateUsers = new Set<string>();
        let w = -Infinity;
        for (const e of evs) {
          if (e.ts <= w) lateUsers.add(e.key);
          w = Math.max(w, e.ts - B - 1);
        }
        const onTime = <V>(m: Map<string, V>) => sorted(m).filter(([k]) => !lateUsers.has(k.split('|')[0]!));
        expect(onTime(alertCells(both.final))).toEqual(onTime(oracle));
        expect(both.report.unexplained).toBe(0);
        for (const d of both.report.differences) expect(lateUsers.has(String(d.cell.user_id))).toBe(true);
      }),
      opts(Math.ceil(RUNS / 2)),
    );
  }, 300_000);
});

describe('property: batching never changes the output', () => {
  const cases: [string, PipelineDefinition, 'clicks' | 'transactions'][] = [
    ['page_views_per_minute', pageViewsPerMinute, 'clicks'],
    ['unique_visitors_5m', uniqueVisitors5m(), 'clicks'],
    ['fraud_multi_country', fraudMultiCountry(), 'transactions'],
  ];
  it.each(cases)('%s: same changelog and late output for any batch sizes', async (_name, base, schema) => {
    const arb = schema === 'clicks' ? clicksBeyond : txnsBeyond;
    await fc.assert(
      fc.asyncProperty(arb, fc.integer({ min: 1, max: 50 }), async ([events, L], batch) => {
        const def = withTiming(base, { maxOutOfOrderness: B, allowedLateness: L });
        const lines = toJsonl(events);
        const one = await streamLines(def, lines, 1);
        const some = await streamLines(def, lines, batch);
        const all = await streamLines(def, lines, 100_000);
        const view = (r: Awaited<ReturnType<typeof streamLines>>) => ({
          results: r.changelog.map(resultToJson),
          late: r.lates.map((l) => [l.event, l.watermark]),
          cells: r.final.map(cellKey),
        });
        expect(view(some)).toEqual(view(one));
        expect(view(all)).toEqual(view(one));
      }),
      opts(Math.ceil(RUNS / 2)),
    );
  }, 300_000);
});
