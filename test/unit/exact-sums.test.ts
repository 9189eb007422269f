import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { aggregateFunction, avg, sum } from '../../pipeline/aggregates.ts';
import type { PipelineDefinition, WindowedPipeline } from '../../pipeline/definition.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { resultToJson, type AlertResult, type ResultRecord, type WindowResult } from '../../schemas/results.ts';
import { validateEvent, type AnyEvent, type EventSchema } from '../../schemas/schema.ts';
import { CollectingEmitter, createOperator } from '../../stream/operators/index.ts';
import { PartialMergeStage } from '../../stream/partial-merge.ts';
import { runBoth } from '../fixtures/run-both.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// Sums of int and decimal fields are exact, past 2^53 too, and both runtimes output the double nearest
// the exact total (docs/semantics.md, Aggregates). Inputs are each within ±(2^53 - 1), as validated.

const MAX = Number.MAX_SAFE_INTEGER; // 2^53 - 1
const ws = tempWorkspace('concord-exact-sums-');
afterAll(() => ws.cleanup());
let runNo = 0;

const file = {
  schemas: {
    m: { time: 't', id: 'id', key: 'k', fields: { id: 'string', t: 'timestamp', k: 'string', i: 'int', d: 'decimal(2)', x: 'double?' } },
  },
  pipelines: {
    agg: { input: 'm', key: 'k', window: { tumbling: '1h' },
      aggregates: { n: 'count', si: ['sum', 'i'], ai: ['avg', 'i'], sd: ['sum', 'd'], ad: ['avg', 'd'], sx: ['sum', 'x'] } },
    // Alert when the int sum passes 2^53: exactly 2^53 does not.
    big: { input: 'm', key: 'k', rule: { within: '1h', sum: 'i', more_than: 2 ** 53, output: 'total' } },
    // A decimal threshold is minor units within the safe range (2^53 - 2 here: 90071992547409.91 is no double).
    bigd: { input: 'm', key: 'k', rule: { within: '1h', sum: 'd', more_than: 90071992547409.9, output: 'total' } },
  },
};
const registry = parseDefinitions(file, 'exact-sums');
const schema: EventSchema = registry.schema('m');
const agg = registry.pipeline('agg') as WindowedPipeline;

const t0 = Date.parse('2026-11-20T00:00:00Z');
/** Events of key `k`, one second apart: `i` as given, `d` the same number of minor units (`i / 100` as text). */
function events(k: string, ints: readonly number[], from = 0): Record<string, unknown>[] {
  return ints.map((i, n) => ({ id: `${k}${from + n}`, t: new Date(t0 + (from + n) * 1_000).toISOString(), k, i, d: (BigInt(i) < 0n ? '-' : '') + minorText(BigInt(i) < 0n ? -BigInt(i) : BigInt(i)), x: 0.1 }));
}
const minorText = (m: bigint) => `${m / 100n}.${String(m % 100n).padStart(2, '0')}`;

/** Exact totals and what each runtime must output: the double nearest the exact total, divided once. */
const exactOf = (ints: readonly number[]) => ints.reduce((s, v) => s + BigInt(v), 0n);

// Naive double additions: 2^53 - 1 + 1 = 2^53, + 1 stays 2^53 (ties to even), so the stream said 2^53.
const UP = [MAX, 1, 1, 1]; // exact 2^53 + 2
// DuckDB's own HUGEINT -> DOUBLE cast truncates negative totals past 2^53: -(2^54 + 3) became -(2^54).
const DOWN = [-MAX, -MAX, -5]; // exact -(2^54 + 3): nearest double -(2^54 + 4)
// Past 2^64 (DuckDB's cast is off there too), and back below: every partial sum in the stream moves.
const HUGE = [...Array.from({ length: 2100 }, () => MAX), 12_345];
// A total a double holds, -(2^54 - 2): DuckDB's cast still gave -(2^54 - 4), and the average -(2^53 - 2).
const TWICE = [-MAX, -MAX];

describe('sum and avg of int and decimal fields: exact accumulation', () => {
  const fn = (kind: 'sum' | 'avg', field: string) => aggregateFunction((kind === 'sum' ? sum : avg)(field), schema);
  const over = (kind: 'sum' | 'avg', field: string, values: readonly number[]) => {
    const f = fn(kind, field);
    const acc = f.create();
    for (const v of values) f.add(acc, { [field]: v } as AnyEvent);
    return f.result(acc);
  };

  it('the double nearest the exact total, not the double of rounded partial sums', () => {
    expect(over('sum', 'i', UP)).toBe(9007199254740994);
    expect(over('sum', 'i', UP)).toBe(Number(exactOf(UP)));
    expect(over('sum', 'i', DOWN)).toBe(Number(exactOf(DOWN)));
    expect(over('sum', 'i', HUGE)).toBe(Number(exactOf(HUGE)));
    expect(over('avg', 'i', UP)).toBe(Number(exactOf(UP)) / 4);
    // Decimals are minor units: divided by 10^N once, after the exact sum.
    expect(over('sum', 'd', UP)).toBe(90071992547409.94);
    expect(over('sum', 'd', UP)).toBe(Number(exactOf(UP)) / 100);
    expect(over('avg', 'd', DOWN)).toBe(Number(exactOf(DOWN)) / 300);
    expect(over('sum', 'd', HUGE)).toBe(Number(exactOf(HUGE)) / 100);
    // Ordinary data is untouched; no value is still null; double sums stay plain double additions.
    expect(over('sum', 'i', [1, 2, -3, 4])).toBe(4);
    expect(over('sum', 'i', [])).toBe(null);
    expect(over('sum', 'x', [0.1, 0.2])).toBe(0.1 + 0.2);
  });

  it('merges and JSON round trips (checkpoints, partials) stay exact, and read older checkpoints', () => {
    const f = fn('sum', 'i');
    const a = f.create(), b = f.create();
    for (const v of [MAX, MAX, 1]) f.add(a, { i: v } as AnyEvent); // 2^54 - 1: no double holds it
    f.add(b, { i: -1 } as AnyEvent);
    const through = (acc: unknown) => f.deserialize(JSON.parse(JSON.stringify(f.serialize(acc))));
    expect(f.serialize(a)).toEqual(['18014398509481983', 3]);
    expect(f.serialize(b)).toEqual([-1, 1]);
    expect(f.result(f.merge(through(a), through(b)))).toBe(18014398509481982); // naive: 2^54 - 1 -> 2^54
    expect(f.result(f.merge(through(b), through(a)))).toBe(18014398509481982);
    // Safe totals serialise as before ([number, count]), and such checkpoints restore.
    expect(f.result(f.deserialize([5, 2]))).toBe(5);
    expect(f.result(f.deserialize([2 ** 60, 200]))).toBe(2 ** 60);
  });
});

describe('partial merge stage: partitions whose partials are exact', () => {
  it('merges the partitions of one window to the exact total', () => {
    const stage = new PartialMergeStage(agg, 2);
    const f = agg.aggregates.map((a) => aggregateFunction(a.aggregate, schema));
    const partialOf = (partition: number, raw: Record<string, unknown>[]) => {
      const accs = f.map((x) => x.create());
      for (const e of raw) { const ev = validateEvent(schema, e) as AnyEvent; f.forEach((x, i) => x.add(accs[i], ev)); }
      // Partials travel as JSON (Kafka).
      stage.partial({ partition, windowStart: t0, windowEnd: t0 + 3_600_000, key: { k: 'a' }, revision: 0, accumulators: JSON.parse(JSON.stringify(accs.map((acc, i) => f[i]!.serialize(acc)))) });
    };
    partialOf(0, events('a', [MAX, MAX, 1]));
    partialOf(1, events('a', [-1], 3));
    stage.progress(0, t0 + 3_600_000); stage.progress(1, t0 + 3_600_000);
    const [cell] = stage.advance();
    expect(cell!.values.si).toBe(18014398509481982);
    expect(cell!.values.sd).toBe(180143985094819.82);
  });
});

describe('checkpoint and restore of a windowed operator with a sum past 2^53', () => {
  it('restoring through JSON between events changes nothing', () => {
    const raw = [...events('a', [MAX, MAX, 1, -1]), ...events('b', UP)].map((e) => validateEvent(schema, e) as AnyEvent);
    const run = (cuts: number[]) => {
      const out = new CollectingEmitter();
      let op = createOperator(agg, out);
      raw.forEach((e, i) => {
        if (cuts.includes(i)) op = createOperator(agg, out, { restore: JSON.parse(JSON.stringify(op.snapshot())) });
        op.process(e, { source: 'p0', offset: i });
      });
      op.finish();
      return out.results.map(resultToJson);
    };
    const straight = run([]);
    expect(run([1, 2, 3, 4, 5, 6, 7])).toEqual(straight);
    expect((straight.find((r) => r.k === 'a') as Record<string, unknown>).si).toBe(18014398509481982);
  });
});

describe('stream and replay agree bit for bit on sums past 2^53; reconcile finds nothing', () => {
  const lines = [...events('up', UP), ...events('down', DOWN), ...events('huge', HUGE), ...events('twice', TWICE)].map((e) => JSON.stringify(e));
  const values = (rs: readonly ResultRecord[], def: PipelineDefinition) =>
    def.kind === 'windowed'
      ? Object.fromEntries((rs as WindowResult[]).map((r) => [String(r.key.k), r.values]))
      : (rs as AlertResult[]).map((r) => [r.key.k, r.id, r.value]);

  it('windowed: sum and avg of int and decimal', async () => {
    const both = await runBoth(agg, lines, join(ws.dir, `run-${runNo++}`));
    const expected = Object.fromEntries(([['up', UP], ['down', DOWN], ['huge', HUGE], ['twice', TWICE]] as const).map(([k, ints]) => {
      const s = Number(exactOf(ints));
      return [k, { n: ints.length, si: s, ai: s / ints.length, sd: s / 100, ad: s / (ints.length * 100), sx: expect.closeTo(0.1 * ints.length, 6) }];
    }));
    expect(values(both.final, agg)).toEqual(expected);
    expect(values(both.replayed, agg)).toEqual(expected);
    // Bit for bit, doubles of the double field aside.
    const strip = (v: Record<string, Record<string, unknown>>) => Object.fromEntries(Object.entries(v).map(([k, x]) => [k, { ...x, sx: null }]));
    expect(strip(values(both.final, agg) as never)).toEqual(strip(values(both.replayed, agg) as never));
    expect(both.report.unexplained).toBe(0);
    expect(both.report.differences).toEqual([]);
  });

  it('rules: an int or decimal sum meets its threshold exactly', async () => {
    for (const name of ['big', 'bigd']) {
      const def = registry.pipeline(name);
      const both = await runBoth(def, lines, join(ws.dir, `run-${runNo++}`));
      // int, more than 2^53: up is 2^53 - 1, then 2^53 (not more), then 2^53 + 1 at its third event (the
      // stream's double additions stayed at 2^53: no alert); huge passes at its second event; down and
      // twice never.
      // decimal, more than 2^53 - 2 minor units: up and huge pass at their first event.
      const expected = name === 'big'
        ? [['huge', 'huge1', Number(2n * BigInt(MAX))], ['up', 'up2', Number(exactOf(UP.slice(0, 3)))]]
        : [['huge', 'huge0', MAX / 100], ['up', 'up0', MAX / 100]];
      const sorted = (xs: unknown[]) => [...xs].sort((a, b) => String((a as unknown[])[1]).localeCompare(String((b as unknown[])[1])));
      expect(sorted(values(both.final, def) as unknown[])).toEqual(expected);
      expect(sorted(values(both.replayed, def) as unknown[])).toEqual(expected);
      expect(both.report.differences).toEqual([]);
    }
  });
});
