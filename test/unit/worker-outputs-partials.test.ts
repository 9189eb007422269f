import { afterEach, describe, expect, it, vi } from 'vitest';
import { seedRegistry, uniqueVisitors5m } from '../../examples/seed.ts';
import { approxDistinct, avg, count, countDistinct, max, min, sum } from '../../pipeline/aggregates.ts';
import { checkDefinition, definitionVersion, type WindowedPipeline } from '../../pipeline/definition.ts';
import { paneId } from '../../pipeline/keys.ts';
import { HyperLogLog } from '../../pipeline/hyperloglog.ts';
import { needsMergeStage, topicNames } from '../../stream/kafka/topics.ts';
import type { PartialMessage } from '../../stream/merge-messages.ts';
import { WindowedOperator } from '../../stream/operators/windowed.ts';
import { WorkerOutputs } from '../../stream/worker-outputs.ts';

/**
 * A worker catching up on a window the firing W already fired re-emits the pane's partial for every event
 * it takes (docs/semantics.md). Each partial carries the sketch at its revision, written as `toMerge`
 * writes a message, and the sketch's 22 KB of text is not stringified again per partial (docs/operations.md).
 */
describe('partials of a fired approx_distinct pane, one per event', () => {
  afterEach(() => { vi.restoreAllMocks(); });

  it('carry the sketch at each revision, byte for byte as a stringified message, without stringifying the sketch', () => {
    const def = uniqueVisitors5m();
    expect(needsMergeStage(def)).toBe(true);
    let op: WindowedOperator | undefined;
    const outputs = new WorkerOutputs('partials-reemit', 'clicks', [def], [true], topicNames('reemit.'), () => op);
    op = new WindowedOperator(def, outputs.emitterFor(0, 0));
    const reference = new HyperLogLog(14);
    const position = { source: 'p0', offset: 0 };
    const click = (i: number, visitor: string) => {
      position.offset = i;
      reference.add(visitor);
      op!.process({ event_id: `e${i}`, ts: 1_000 + i, url: '/a', visitor_id: visitor }, position);
    };
    for (let i = 0; i < 6_000; i++) click(i, `v${i}`); // dense: more than a quarter of the registers set
    op.onWatermark(400_000); // the group's firing W passes [0, 5m); the partition's own W is far behind
    const fired = outputs.take().records;
    expect(fired).toHaveLength(1);

    const definition = (JSON.parse(String(fired[0]!.value)) as PartialMessage).definition;
    const sketches: string[] = [];
    const stringify = vi.spyOn(JSON, 'stringify');
    for (let i = 0; i < 40; i++) {
      click(6_000 + i, i % 2 === 0 ? `v${i}` : `new${i}`); // a seen visitor changes no register
      sketches.push(reference.serialize());
    }
    const longest = Math.max(0, ...stringify.mock.results.map((r) => (typeof r.value === 'string' ? r.value.length : 0)));
    stringify.mockRestore();
    expect(sketches[0]!.startsWith('hll:14:')).toBe(true);
    expect(longest).toBeLessThan(1_000);
    const records = outputs.take().records;
    expect(records.every((r) => r.topic === 'partials-reemit' && r.key === def.name)).toBe(true);
    expect(records.map((r) => r.value)).toEqual(sketches.map((sketch, i) => JSON.stringify({
      type: 'partial', pipeline: def.name, definition, partition: 0, window_start: 0, window_end: 300_000, key: {}, revision: i + 1, accumulators: [sketch],
    } satisfies PartialMessage)));
  });

  it('carry every kind of accumulator as the stringified message would (exact sums, extremes, sets, sketches)', () => {
    const def = checkDefinition({
      ...uniqueVisitors5m(), name: 'reemit_mixed', schema: seedRegistry().schema('transactions'), key: ['country'],
      aggregates: [
        { output: 'n', aggregate: count() }, { output: 'total', aggregate: sum('amount') }, { output: 'mean', aggregate: avg('amount') },
        { output: 'low', aggregate: min('amount') }, { output: 'high', aggregate: max('amount') },
        { output: 'users', aggregate: countDistinct('user_id') }, { output: 'approx', aggregate: approxDistinct('user_id', 4) },
      ],
    }) as WindowedPipeline;
    expect(needsMergeStage(def)).toBe(true);
    let op: WindowedOperator | undefined;
    const outputs = new WorkerOutputs('partials-reemit', 'transactions', [def], [true], topicNames('reemit.'), () => op);
    op = new WindowedOperator(def, outputs.emitterFor(0, 0));
    const position = { source: 'p0', offset: 0 };
    const txn = (i: number, ts: number) => {
      position.offset = i;
      op!.process({ txn_id: `t${i}`, ts, user_id: `u${i % 7}`, country: i % 3 === 0 ? 'FR' : 'DE', amount: i % 5 === 0 ? 2 ** 53 - 1 : 100 + i }, position);
    };
    for (let i = 0; i < 30; i++) txn(i, 1_000 + i);
    op.onWatermark(400_000);
    outputs.take();
    const expected: string[] = [];
    for (let i = 30; i < 45; i++) {
      txn(i, 2_000 + i);
      const country = i % 3 === 0 ? 'FR' : 'DE';
      expected.push(JSON.stringify({
        type: 'partial', pipeline: def.name, definition: definitionVersion(def), partition: 0, window_start: 0, window_end: 300_000, key: { country },
        revision: expected.filter((e) => e.includes(`"${country}"`)).length + 1, accumulators: op.paneAccumulators(0, paneId(def.key, { country }))!,
      } satisfies PartialMessage));
    }
    expect(outputs.take().records.map((r) => r.value)).toEqual(expected);
  });
});
