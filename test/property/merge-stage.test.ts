import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pageViewsPerMinute, uniqueVisitors5m } from '../../examples/seed.ts';
import { checkDefinition, withTiming, type WindowedPipeline } from '../../pipeline/definition.ts';
import { parseDefinitions } from '../../pipeline/definitions-file.ts';
import { paneId } from '../../pipeline/keys.ts';
import { WatermarkTracker } from '../../pipeline/watermark.ts';
import { decodeLine } from '../../schemas/decode.ts';
import { cellKey, type WindowResult } from '../../schemas/results.ts';
import type { AnyEvent } from '../../schemas/schema.ts';
import { createOperator, type StreamOperator } from '../../stream/operators/index.ts';
import { WindowedOperator } from '../../stream/operators/windowed.ts';
import { PartialMergeStage, type Partial, type PartialMergeSnapshot } from '../../stream/partial-merge.ts';
import { batchSizesArb, clickStreamArb, splitIntoBatches, toJsonl } from '../fixtures/arbitraries.ts';

// The merge stage against one operator: P partition operators sharing one watermark (as a Kafka worker
// runs them), their partials merged with W = min over the partitions' reported progress, must give
// every (window, key) exactly the final value the one operator gives, bit for bit (HLL registers merge
// exactly), over disordered and late streams, any batching, with checkpoints and re-sent partials.
const B = 30_000;
const RUNS = Number(process.env.CONCORD_PROPERTY_RUNS ?? 200);
const byVisitor = checkDefinition({ ...(pageViewsPerMinute as WindowedPipeline), name: 'views_per_visitor', key: ['visitor_id'] }) as WindowedPipeline;
const defs = [
  { label: 'unique_visitors_5m (unkeyed HLL)', def: uniqueVisitors5m() as WindowedPipeline },
  { label: 'views per visitor (keyed by another field than the partition key)', def: byVisitor },
];

function decode(def: WindowedPipeline, lines: string[]): AnyEvent[] {
  return lines.map((line, i) => {
    const d = decodeLine(def.schema, line, { source: 'gen', offset: i });
    if (!d.ok) throw new Error(`generated an invalid event: ${d.deadLetter.reason}`);
    return d.event;
  });
}

/** Final value per cell: the highest revision wins. */
function finals(results: readonly WindowResult[]): Map<string, Record<string, number | null>> {
  const best = new Map<string, WindowResult>();
  for (const r of results) {
    const k = cellKey(r);
    if ((best.get(k)?.revision ?? -1) < r.revision) best.set(k, r);
  }
  return new Map([...best].map(([k, r]) => [k, r.values]).sort(([a], [b]) => (String(a) < String(b) ? -1 : 1)) as [string, Record<string, number | null>][]);
}

function oneOperator(def: WindowedPipeline, events: AnyEvent[], partitionOf: (e: AnyEvent) => number, partitions: number[]): WindowResult[] {
  const out: WindowResult[] = [];
  const tracker = new WatermarkTracker(def.watermark.maxOutOfOrderness);
  tracker.addSources(partitions.map((p) => ({ source: `p${p}` })));
  const op = createOperator(def, { result: (r) => out.push(r as WindowResult), late: () => undefined }, { tracker });
  events.forEach((e, i) => op.process(e, { source: `p${partitionOf(e)}`, offset: i }));
  op.finish();
  return out;
}

/** A snapshot with its windows in a fixed order (a restore rebuilds them in another). */
function sortedWindows(snap: PartialMergeSnapshot): PartialMergeSnapshot {
  return { ...snap, windows: [...snap.windows].sort((a, b) => a.start - b.start || (JSON.stringify(a.key) < JSON.stringify(b.key) ? -1 : 1)) };
}

interface Run {
  merged: WindowResult[];
  duplicatesSent: number;
}

/**
 * `workers` workers own the partitions round-robin; each has one watermark over its own partitions
 * (as separate processes do) and reports, per partition, the W its operators were advanced to.
 */
function partitioned(
  def: WindowedPipeline, batches: AnyEvent[][], partitionOf: (e: AnyEvent) => number, partitions: number[],
  opts: { checkpointAt: number; resend: boolean; workers: number },
): Run {
  const trackers = [...Array(opts.workers)].map(() => new WatermarkTracker(def.watermark.maxOutOfOrderness));
  const trackerOf = (p: number) => trackers[p % opts.workers]!;
  for (const p of partitions) trackerOf(p).addSources([{ source: `p${p}` }]);
  const pending: Partial[] = [];
  const sent: Partial[] = [];
  const ops = new Map<number, StreamOperator>();
  for (const p of partitions) {
    ops.set(p, createOperator(def, {
      result: (r) => {
        const w = r as WindowResult;
        const accumulators = (ops.get(p) as WindowedOperator).paneAccumulators(w.windowStart, paneId(def.key, w.key))!;
        pending.push({ partition: p, windowStart: w.windowStart, windowEnd: w.windowEnd, key: w.key, revision: w.revision, accumulators });
      },
      late: () => undefined,
    }, { tracker: trackerOf(p) }));
  }
  const inputs = Math.max(...partitions) + 1;
  let stage = new PartialMergeStage(def, inputs);
  // Partitions that never deliver hold nothing back: the worker reports their W like the others'.
  const merged: WindowResult[] = [];
  let duplicatesSent = 0;
  // The compacted checkpoints topic as kafka-merge.ts writes it: the head, and the latest part per window (null: deleted).
  const stored = { head: JSON.parse(JSON.stringify(stage.checkpoint().head)) as PartialMergeSnapshot, parts: new Map<string, string>() };
  const step = () => {
    for (const [p, op] of ops) op.onWatermark(trackerOf(p).current);
    for (const partial of pending.splice(0)) {
      stage.partial(partial);
      sent.push(partial);
    }
    for (const p of partitions) stage.progress(p, trackerOf(p).current);
    merged.push(...stage.advance());
    const delta = stage.checkpoint();
    stored.head = JSON.parse(JSON.stringify(delta.head)) as PartialMergeSnapshot;
    for (const [id, json] of delta.parts) if (json === null) stored.parts.delete(id); else stored.parts.set(id, json);
    expect(sortedWindows(restoredFrom().snapshot())).toEqual(sortedWindows(JSON.parse(JSON.stringify(stage.snapshot())) as PartialMergeSnapshot));
  };
  /** A stage restored from the incremental checkpoints (head + parts): after every step, the same state as the whole snapshot. */
  const restoredFrom = () => {
    const restored = new PartialMergeStage(def, inputs);
    restored.restoreParts(stored.head, stored.parts.values());
    return restored;
  };
  let offset = 0;
  batches.forEach((batch, b) => {
    for (const e of batch) {
      const p = partitionOf(e);
      ops.get(p)!.process(e, { source: `p${p}`, offset: offset++ });
    }
    step();
    if (b === opts.checkpointAt) stage = restoredFrom();
    if (opts.resend && b % 2 === 1) {
      // A rebalance or a drain re-sends partials the merge has already seen: they change nothing.
      for (const partial of sent.slice(-3)) { stage.partial(partial); duplicatesSent++; }
      merged.push(...stage.advance());
    }
  });
  for (const op of ops.values()) op.finish();
  trackers.forEach((t) => t.finish());
  step();
  return { merged, duplicatesSent };
}

describe.each(defs)('merge stage: $label', ({ def: base }) => {
  it(`partitioned partials merged == one operator, bit for bit (${RUNS} runs)`, () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0, 60_000, 300_000).chain((L) => clickStreamArb({ maxOutOfOrderness: B, allowedLateness: L, disorder: 'beyond' }).map((ev) => [ev, L] as const)),
        fc.integer({ min: 1, max: 4 }), batchSizesArb(), fc.nat(10), fc.boolean(),
        ([raw, L], P, sizes, checkpointAt, resend) => {
          const def = withTiming(base, { maxOutOfOrderness: B, allowedLateness: L }) as WindowedPipeline;
          const events = decode(def, toJsonl(raw));
          // Kafka partitions by url: one url's events in one partition, a window's visitors in many.
          const partitionOf = (e: AnyEvent) => [...String(e.url)].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % P, 7) % P;
          const partitions = [...Array(P).keys()];
          const want = finals(oneOperator(def, events, partitionOf, partitions));
          const run = partitioned(def, splitIntoBatches(events, sizes), partitionOf, partitions, { checkpointAt, resend, workers: 1 });
          expect(finals(run.merged)).toEqual(want);
          // Every merged emission came after W passed the window's end (never a partial number early).
          for (const r of run.merged) expect(r.watermark!).toBeGreaterThanOrEqual(r.windowEnd - 1);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it(`several workers, each with its own watermark: on-time data gives each window once, complete (${RUNS} runs)`, () => {
    fc.assert(
      fc.property(
        clickStreamArb({ maxOutOfOrderness: B, allowedLateness: 0, disorder: 'within' }), fc.integer({ min: 2, max: 6 }), fc.integer({ min: 2, max: 3 }),
        batchSizesArb(), fc.nat(10), fc.boolean(),
        (raw, P, workers, sizes, checkpointAt, resend) => {
          const def = withTiming(base, { maxOutOfOrderness: B, allowedLateness: 60_000 }) as WindowedPipeline;
          const events = decode(def, toJsonl(raw));
          const partitionOf = (e: AnyEvent) => [...String(e.url)].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % P, 7) % P;
          const partitions = [...Array(P).keys()];
          const reference = oneOperator(def, events, partitionOf, partitions);
          const run = partitioned(def, splitIntoBatches(events, sizes), partitionOf, partitions, { checkpointAt, resend, workers });
          // Nothing is late here, so the one operator emits each cell once; so must the merge: a window
          // fired before the slowest worker's partials were in would show up as an early, smaller revision 0.
          expect(reference.every((r) => r.revision === 0)).toBe(true);
          expect(run.merged.map((r) => [cellKey(r), r.revision, r.values]).sort()).toEqual(reference.map((r) => [cellKey(r), r.revision, r.values]).sort());
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('merge stage: watermark and bookkeeping', () => {
  const def = withTiming(uniqueVisitors5m(), { maxOutOfOrderness: B, allowedLateness: 60_000 }) as WindowedPipeline;
  const acc = (visitors: string[]) => {
    const op = createOperator(def, { result: () => undefined, late: () => undefined });
    visitors.forEach((v, i) => op.process({ event_id: `e${i}`, ts: 1_000, url: '/', visitor_id: v } as AnyEvent, { source: 's', offset: i }));
    return (op as WindowedOperator).paneAccumulators(0)!;
  };

  it('fires only when the slowest input has passed the window end; a newer partial re-emits at the next revision', () => {
    const stage = new PartialMergeStage(def, 2);
    stage.partial({ partition: 0, windowStart: 0, windowEnd: 300_000, key: {}, revision: 0, accumulators: acc(['a', 'b']) });
    stage.partial({ partition: 1, windowStart: 0, windowEnd: 300_000, key: {}, revision: 0, accumulators: acc(['b', 'c']) });
    stage.progress(0, 400_000);
    expect(stage.advance()).toEqual([]); // input 1 still at -infinity
    stage.progress(1, 299_998);
    expect(stage.advance()).toEqual([]);
    expect(stage.watermark).toBe(299_998);
    stage.progress(1, 299_999);
    const [first, ...rest] = stage.advance();
    expect(rest).toEqual([]);
    expect(first).toMatchObject({ windowStart: 0, windowEnd: 300_000, key: {}, values: { visitors: 3 }, revision: 0, watermark: 299_999 });
    // The same partial again (a rebalance re-sent it): nothing new.
    stage.partial({ partition: 1, windowStart: 0, windowEnd: 300_000, key: {}, revision: 0, accumulators: acc(['b', 'c']) });
    expect(stage.advance()).toEqual([]);
    expect(stage.stats.duplicates).toBe(1);
    // A late update within L from partition 1 (revision 1): the merged window at revision 1.
    stage.partial({ partition: 1, windowStart: 0, windowEnd: 300_000, key: {}, revision: 1, accumulators: acc(['b', 'c', 'd']) });
    expect(stage.advance()).toMatchObject([{ values: { visitors: 4 }, revision: 1 }]);
    // W never moves back, and past end - 1 + L the window is dropped; a partial then counts as expired.
    stage.progress(0, 10);
    stage.progress(1, 359_999);
    expect(stage.advance()).toEqual([]);
    expect(stage.watermark).toBe(359_999);
    stage.partial({ partition: 0, windowStart: 0, windowEnd: 300_000, key: {}, revision: 1, accumulators: acc(['z']) });
    expect(stage.advance()).toEqual([]);
    expect(stage.stats.expired).toBe(1);
  });

  it('merges partials in partition order: a sum of doubles is the same number whatever order they came in', () => {
    const km = parseDefinitions({
      schemas: { rides: { time: 'ts', id: 'ride_id', fields: { ride_id: 'string', ts: 'timestamp', km: 'double' } } },
      pipelines: { km: { input: 'rides', window: { tumbling: '1m' }, aggregates: { km: ['sum', 'km'] } } },
    }, 'x').pipeline('km') as WindowedPipeline;
    const partial = (partition: number, value: number): Partial => {
      const op = createOperator(km, { result: () => undefined, late: () => undefined });
      op.process({ ride_id: `r${partition}`, ts: 1_000, km: value } as AnyEvent, { source: 's', offset: 0 });
      return { partition, windowStart: 0, windowEnd: 60_000, key: {}, revision: 0, accumulators: (op as WindowedOperator).paneAccumulators(0)! };
    };
    const merged = (order: number[]) => {
      const stage = new PartialMergeStage(km, 3);
      const values = [0.1, 0.2, 0.3];
      for (const p of order) stage.partial(partial(p, values[p]!));
      for (const p of [0, 1, 2]) stage.progress(p, 60_000);
      return stage.advance().map((r) => r.values.km);
    };
    // Added in arrival order these differ in the last bit (0.6000000000000001 against 0.6).
    expect(((0.1 + 0.2) + 0.3) === (0.2 + 0.3 + 0.1)).toBe(false);
    expect(merged([1, 2, 0])).toEqual(merged([0, 1, 2]));
    expect(merged([2, 0, 1])).toEqual(merged([0, 1, 2]));
  });

  it('rejects progress from an input it does not have', () => {
    expect(() => new PartialMergeStage(def, 2).progress(2, 0)).toThrow(/input partition 2/);
  });
});
