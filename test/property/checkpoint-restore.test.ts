import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fraudMultiCountry, pageViewsPerMinute, uniqueVisitors5m } from '../../examples/seed.ts';
import { withTiming, type PipelineDefinition } from '../../pipeline/definition.ts';
import type { AnyEvent } from '../../schemas/schema.ts';
import { validateEvent } from '../../schemas/schema.ts';
import { resultToJson } from '../../schemas/results.ts';
import { CollectingEmitter, createOperator } from '../../stream/operators/index.ts';
import { clickStreamArb, transactionStreamArb } from '../fixtures/arbitraries.ts';

// Nothing lost, nothing doubled, at the operator level: stop anywhere, checkpoint through JSON,
// restore into a fresh operator, continue: the output is the uninterrupted output, to the letter.
const B = 30_000;
const RUNS = Number(process.env.CONCORD_PROPERTY_RUNS ?? 200);
const cases: [string, PipelineDefinition, 'clicks' | 'transactions'][] = [
  ['page_views_per_minute', pageViewsPerMinute, 'clicks'],
  ['unique_visitors_5m', uniqueVisitors5m(), 'clicks'],
  ['fraud_multi_country', fraudMultiCountry(), 'transactions'],
];

function run(def: PipelineDefinition, events: AnyEvent[], cuts: number[]) {
  const out = new CollectingEmitter();
  let op = createOperator(def, out);
  events.forEach((event, i) => {
    if (cuts.includes(i)) op = createOperator(def, out, { restore: JSON.parse(JSON.stringify(op.snapshot())) });
    op.process(event, { source: 'p0', offset: i });
  });
  op.finish();
  return { results: out.results.map(resultToJson), lates: out.lates.map((l) => [l.event, l.watermark]) };
}

describe.each(cases)('checkpoint and restore: %s', (_name, base, schema) => {
  it(`restoring at random points changes nothing (${RUNS} runs)`, () => {
    const withL = fc.constantFrom(0, 1, 60_000, 300_000).chain((L) =>
      (schema === 'clicks'
        ? clickStreamArb({ maxOutOfOrderness: B, allowedLateness: L, disorder: 'beyond' })
        : transactionStreamArb({ maxOutOfOrderness: B, allowedLateness: L, disorder: 'beyond' })).map((raw) => [raw, L] as const));
    fc.assert(
      fc.property(withL, fc.array(fc.nat(), { maxLength: 4 }), ([raw, L], cutSeeds) => {
        const def = withTiming(base, { maxOutOfOrderness: B, allowedLateness: L });
        const events = raw.map((e) => validateEvent(def.schema, e) as AnyEvent);
        const cuts = cutSeeds.map((c) => c % (events.length + 1));
        expect(run(def, events, cuts)).toEqual(run(def, events, []));
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses a checkpoint of another definition version', () => {
    const snap = createOperator(base, new CollectingEmitter()).snapshot();
    const other = withTiming(base, { allowedLateness: 1 });
    expect(() => createOperator(other, new CollectingEmitter(), { restore: snap })).toThrow(/checkpoint was taken with definition version/);
  });
});
