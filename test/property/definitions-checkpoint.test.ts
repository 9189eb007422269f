import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PipelineDefinition, WindowedPipeline } from '../../pipeline/definition.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { paneId } from '../../pipeline/keys.ts';
import { WatermarkTracker } from '../../pipeline/watermark.ts';
import { decodeLine } from '../../schemas/decode.ts';
import { cellKey, resultToJson, type LateRecord, type ResultRecord, type WindowResult } from '../../schemas/results.ts';
import type { AnyEvent } from '../../schemas/schema.ts';
import { createOperator, type Emitter, type StreamOperator } from '../../stream/operators/index.ts';
import { WindowedOperator } from '../../stream/operators/windowed.ts';
import { PartialMergeStage, type Partial } from '../../stream/partial-merge.ts';
import { batchesOf } from '../../sources/jsonl-file.ts';
import { batchSizesArb, splitIntoBatches } from '../fixtures/arbitraries.ts';
import type { DefinitionArbOptions } from '../fixtures/definition-arb-draws.ts';
import { definitionCaseArb, describeCase, type GeneratedCase } from '../fixtures/definition-arbitraries.ts';
import { definitionOracle } from '../fixtures/definition-oracle.ts';
import { diffRows } from '../fixtures/definition-oracle-diff.ts';
import type { Row } from '../fixtures/definition-oracle-result.ts';

// Over random definitions files (the generator of definitions-stream-vs-replay.test.ts):
// - every operator checkpointed at random points (through JSON) and restored into a fresh operator
//   continues exactly as the uninterrupted one: same changelog, late output, skips and late-accepted;
// - for windowed pipelines, per-partition operators whose partials go through the merge stage (with a
//   checkpoint of the stage and re-sent partials) give every (window, key) the one operator's final
//   value (sums and averages of doubles within 1e-9 relative: the merge adds in another order).

const RUNS = Number(process.env.CONCORD_DEFINITION_RUNS ?? 200); // operators only: cheap
/** Generator options from the environment, e.g. to look past a known disagreement while it is fixed:
 *  CONCORD_DEFINITION_ARB='{"without":["avg of a decimal"],"sqlishNames":false}'. */
const ARB: DefinitionArbOptions = JSON.parse(process.env.CONCORD_DEFINITION_ARB ?? '{}');
const SOURCE = 'file:input.jsonl';

interface Positioned { event: AnyEvent; offset: number }

function decodeAll(def: PipelineDefinition, lines: readonly string[]): Positioned[] {
  const out: Positioned[] = [];
  for (const batch of batchesOf(SOURCE, lines, 1000)) {
    batch.lines.forEach((line, i) => {
      const d = decodeLine(def.schema, line, { source: SOURCE, offset: batch.firstOffset + i });
      if (d.ok) out.push({ event: d.event, offset: batch.firstOffset + i });
    });
  }
  return out;
}

const lateView = (l: LateRecord) => [l.pipeline, l.position.offset, l.watermark, l.windowStart ?? null, l.windowEnd ?? null];

function runWithCuts(def: PipelineDefinition, events: readonly Positioned[], cuts: readonly number[]) {
  const results: ResultRecord[] = [], lates: LateRecord[] = [], skips: LateRecord[] = [], accepted: LateRecord[] = [];
  const emitter: Emitter = {
    result: (r) => results.push(r),
    late: (l) => lates.push(l),
    skipped: (l) => skips.push(l),
    lateAccepted: (l) => accepted.push(l),
  };
  let op: StreamOperator = createOperator(def, emitter);
  const restart = () => { op = createOperator(def, emitter, { restore: JSON.parse(JSON.stringify(op.snapshot())) }); };
  events.forEach(({ event, offset }, i) => {
    if (cuts.includes(i)) restart();
    op.process(event, { source: SOURCE, offset });
  });
  if (cuts.includes(events.length)) restart(); // after the last event, before the end of input
  op.finish();
  return { results: results.map(resultToJson), lates: lates.map(lateView), skips: skips.map(lateView), accepted: accepted.map(lateView), watermark: op.watermark };
}

describe('checkpoint and restore over random definitions files', () => {
  it(`restoring every operator at random points changes nothing (${RUNS} runs)`, () => {
    fc.assert(
      fc.property(definitionCaseArb({ ...ARB, maxEvents: 60 }), fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), (c, cutSeeds) => {
        const registry = parseDefinitions(c.file, 'generated');
        for (const def of registry.pipelines) {
          const events = decodeAll(def, c.lines);
          const cuts = cutSeeds.map((s) => s % (events.length + 1));
          const want = runWithCuts(def, events, []);
          const got = runWithCuts(def, events, cuts);
          try {
            expect(got).toEqual(want);
          } catch (error) {
            throw new Error(`[${def.name}] restored at ${JSON.stringify(cuts)} (event indexes) differs: ${(error as Error).message}\n\n${describeCase(c)}`);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// Merge stage (the way a Kafka worker publishes partials, see test/property/merge-stage.test.ts)

function oneOperator(def: WindowedPipeline, events: readonly Positioned[], partitionOf: (e: AnyEvent) => number, partitions: number[]): WindowResult[] {
  const out: WindowResult[] = [];
  const tracker = new WatermarkTracker(def.watermark.maxOutOfOrderness);
  tracker.addSources(partitions.map((p) => ({ source: `p${p}` })));
  const op = createOperator(def, { result: (r) => out.push(r as WindowResult), late: () => undefined }, { tracker });
  for (const { event, offset } of events) op.process(event, { source: `p${partitionOf(event)}`, offset });
  op.finish();
  return out;
}

function partitioned(
  def: WindowedPipeline, batches: Positioned[][], partitionOf: (e: AnyEvent) => number, partitions: number[],
  opts: { checkpointAt: number; resend: boolean },
): { merged: WindowResult[]; missingAccumulators: string[] } {
  const tracker = new WatermarkTracker(def.watermark.maxOutOfOrderness);
  tracker.addSources(partitions.map((p) => ({ source: `p${p}` })));
  const pending: Partial[] = [];
  const sent: Partial[] = [];
  const missingAccumulators: string[] = [];
  const ops = new Map<number, StreamOperator>();
  for (const p of partitions) {
    ops.set(p, createOperator(def, {
      result: (r) => {
        const w = r as WindowResult;
        // As the Kafka worker does: the pane's accumulators, found by the result's key values.
        const accumulators = (ops.get(p) as WindowedOperator).paneAccumulators(w.windowStart, paneId(def.key, w.key));
        if (accumulators === undefined) missingAccumulators.push(`partition ${p}: no pane for result ${JSON.stringify(resultToJson(w))}`);
        else pending.push({ partition: p, windowStart: w.windowStart, windowEnd: w.windowEnd, key: w.key, revision: w.revision, accumulators });
      },
      late: () => undefined,
    }, { tracker }));
  }
  const inputs = Math.max(...partitions) + 1;
  let stage = new PartialMergeStage(def, inputs);
  const merged: WindowResult[] = [];
  const step = () => {
    for (const op of ops.values()) op.onWatermark(tracker.current);
    for (const partial of pending.splice(0)) {
      stage.partial(partial);
      sent.push(partial);
    }
    for (const p of partitions) stage.progress(p, tracker.current);
    merged.push(...stage.advance());
  };
  batches.forEach((batch, b) => {
    for (const { event, offset } of batch) {
      const p = partitionOf(event);
      ops.get(p)!.process(event, { source: `p${p}`, offset });
    }
    step();
    if (b === opts.checkpointAt) {
      const snap = JSON.parse(JSON.stringify(stage.snapshot())) as ReturnType<PartialMergeStage['snapshot']>;
      stage = new PartialMergeStage(def, inputs);
      stage.restore(snap);
    }
    if (opts.resend && b % 2 === 1) {
      for (const partial of sent.slice(-3)) stage.partial(partial); // a rebalance re-sends: nothing changes
      merged.push(...stage.advance());
    }
  });
  for (const op of ops.values()) op.finish();
  tracker.finish();
  step();
  return { merged, missingAccumulators };
}

/** The highest revision per cell. */
function finals(results: readonly WindowResult[]): Row[] {
  const best = new Map<string, WindowResult>();
  for (const r of results) {
    const k = cellKey(r);
    if ((best.get(k)?.revision ?? -1) < r.revision) best.set(k, r);
  }
  return [...best.values()].map((r) => resultToJson(r) as Row);
}

/** Sum of |x| of a double field over every event: the magnitude any merged sum's rounding is relative to. */
function magnitudeOf(events: readonly Positioned[], field: string): number {
  return events.reduce((s, { event }) => s + (typeof event[field] === 'number' ? Math.abs(event[field] as number) : 0), 0);
}

describe('merge stage over random windowed definitions', () => {
  it(`partitioned partials merged == one operator (${RUNS} runs)`, () => {
    fc.assert(
      fc.property(
        definitionCaseArb({ ...ARB, pipelineKinds: 'windowed', maxEvents: 60 }), fc.integer({ min: 1, max: 4 }), fc.nat(), batchSizesArb({ maxBatch: 60 }), fc.nat(10), fc.boolean(),
        (c: GeneratedCase, P, fieldSeed, sizes, checkpointAt, resend) => {
          const registry = parseDefinitions(c.file, 'generated');
          for (const def of registry.pipelines as WindowedPipeline[]) {
            const events = decodeAll(def, c.lines);
            // Partitioned by some field of the schema (the Kafka key), not necessarily the pipeline key.
            const fields = Object.keys(def.schema.fields);
            const by = fields[fieldSeed % fields.length]!;
            const partitionOf = (e: AnyEvent) => [...String(e[by])].reduce((h, ch) => (h * 31 + ch.charCodeAt(0)) % 9973, 7) % P;
            const partitions = [...Array(P).keys()];
            const want = finals(oneOperator(def, events, partitionOf, partitions));
            const run = partitioned(def, splitIntoBatches(events, sizes), partitionOf, partitions, { checkpointAt, resend });
            const o = definitionOracle(c.file, def.name, c.lines, { mode: 'complete' });
            const magnitudes = new Map(want.map((r) => [o.idOf(r), Object.fromEntries(def.aggregates
              .filter((a) => o.tolerant.includes(a.output) && a.aggregate.kind !== 'count')
              .map((a) => [a.output, magnitudeOf(events, (a.aggregate as { field: string }).field)]))]));
            const problems = [
              ...run.missingAccumulators.slice(0, 5),
              ...diffRows(finals(run.merged), want, { ...o, magnitudes, labels: ['merged', 'one operator'] }),
              ...run.merged.filter((r) => r.watermark! < r.windowEnd - 1).map((r) => `emitted before W passed the window end: ${JSON.stringify(resultToJson(r))}`),
            ];
            if (problems.length > 0) {
              throw new Error(`[${def.name}] P=${P} partitioned by ${JSON.stringify(by)}: ${problems.length} problem(s):\n${problems.slice(0, 20).join('\n')}\n\n${describeCase(c)}`);
            }
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
});
