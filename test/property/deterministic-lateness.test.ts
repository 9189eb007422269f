import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fraudMultiCountry, pageViewsPerMinute, uniqueVisitors5m } from '../../examples/seed.ts';
import { withTiming, type PipelineDefinition, type WindowedPipeline } from '../../pipeline/definition.ts';
import { paneId } from '../../pipeline/keys.ts';
import { WatermarkTracker } from '../../pipeline/watermark.ts';
import { cellKey, type ResultRecord, type WindowResult } from '../../schemas/results.ts';
import { validateEvent, type AnyEvent } from '../../schemas/schema.ts';
import { createOperator, type OperatorSnapshot, type StreamOperator } from '../../stream/operators/index.ts';
import { WindowedOperator } from '../../stream/operators/windowed.ts';
import { PartialMergeStage, type PartialMergeSnapshot } from '../../stream/partial-merge.ts';
import { lateSetByPartition } from '../../reconcile/partition-lateness.ts';
import { clickStreamArb, transactionStreamArb } from '../fixtures/arbitraries.ts';

// The late set and the final results of a multi-partition stream are a function of the partitions'
// contents alone: whatever the interleaving and batching of partitions, the number of workers, idle
// partitions, and restores (from incremental checkpoints: a partition's record rewritten only when it
// changed) with partitions moving between workers. The model below runs the pieces the Kafka worker
// runs (stream/kafka-worker.ts): per partition one operator with its own W, a firing W per worker over
// its non-idle partitions, progress (firing W, own W) to the merge stage. No broker needed.
const B = 30_000;
const RUNS = Number(process.env.CONCORD_PROPERTY_RUNS ?? 200);

interface Schedule {
  workers: number;
  steps: { pick: number; size: number; idle: number; restore: boolean; reassign: number }[];
}

const scheduleArb: fc.Arbitrary<Schedule> = fc.record({
  workers: fc.integer({ min: 1, max: 3 }),
  steps: fc.array(
    fc.record({
      pick: fc.nat(), size: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 40 })),
      idle: fc.nat(8), restore: fc.nat(4).map((n) => n === 0), reassign: fc.nat(),
    }),
    { minLength: 1, maxLength: 60 },
  ),
});

interface Outcome {
  /** `source@offset`, dropped (late) or evaluated on arrival (rules). */
  late: string[];
  /** The last value written per cell (what a compacted results topic keeps). */
  finals: Map<string, unknown>;
}

const sourceOf = (p: number) => `in:${p}`;

/** What a worker's checkpoint record of a partition holds. */
interface Stored { next: number; idle: boolean; operator: OperatorSnapshot }

function simulate(def: PipelineDefinition, byPartition: AnyEvent[][], schedule: Schedule): Outcome {
  const P = byPartition.length;
  const merged = def.kind === 'windowed' && !def.key.includes('url');
  const late: string[] = [];
  const finals = new Map<string, unknown>();
  // Values only: how many revisions led there depends on when windows fired, which is timing.
  const emit = (r: ResultRecord) => finals.set(cellKey(r), r.kind === 'window' ? r.values : { value: r.value, late: r.late });
  let stage = merged ? new PartialMergeStage(def as WindowedPipeline, P) : undefined;
  const store = new Map<number, Stored>();
  let mergeStore: PartialMergeSnapshot | undefined = stage ? JSON.parse(JSON.stringify(stage.snapshot())) : undefined;
  let owner: number[] = [];
  let firing: WatermarkTracker[] = [];
  const ops = new Map<number, StreamOperator>();
  const next = new Map<number, number>();
  const dirty = new Set<number>();
  const pending: Parameters<PartialMergeStage['partial']>[0][] = [];

  const makeOp = (p: number, restore?: OperatorSnapshot) => {
    const op: StreamOperator = createOperator(def, {
      result: (r) => {
        if (!merged) return emit(r);
        const w = r as WindowResult;
        const accumulators = (ops.get(p) as WindowedOperator).paneAccumulators(w.windowStart, paneId((def as WindowedPipeline).key, w.key))!;
        pending.push({ partition: p, windowStart: w.windowStart, windowEnd: w.windowEnd, key: w.key, revision: w.revision, accumulators });
      },
      late: (l) => late.push(`${l.position.source}@${l.position.offset}`),
      lateAccepted: (l) => late.push(`${l.position.source}@${l.position.offset}`),
    }, restore ? { restore } : {});
    ops.set(p, op);
  };
  // (Re)starts every worker from the stored checkpoints: partitions spread by `seed`.
  const start = (seed: number) => {
    owner = Array.from({ length: P }, (_, p) => (p + seed) % schedule.workers);
    firing = Array.from({ length: schedule.workers }, () => new WatermarkTracker(def.watermark.maxOutOfOrderness));
    ops.clear();
    pending.length = 0;
    for (let p = 0; p < P; p++) {
      const cp = store.get(p);
      makeOp(p, cp ? (JSON.parse(JSON.stringify(cp.operator)) as OperatorSnapshot) : undefined);
      next.set(p, cp?.next ?? 0);
      firing[owner[p]!]!.addSources([{ source: sourceOf(p), idle: cp?.idle ?? false, watermark: ops.get(p)!.watermark }]);
    }
    if (merged) {
      stage = new PartialMergeStage(def as WindowedPipeline, P);
      stage.restore(JSON.parse(JSON.stringify(mergeStore)) as PartialMergeSnapshot);
    }
  };
  // One transaction of one worker: fire by its W, merge, checkpoint what changed.
  const step = (worker: number) => {
    const mine = [...ops.keys()].filter((p) => owner[p] === worker);
    for (const p of mine) {
      ops.get(p)!.onWatermark(firing[worker]!.current);
      if (ops.get(p)!.takeChanged()) dirty.add(p);
    }
    if (stage) {
      for (const partial of pending.splice(0)) stage.partial(partial);
      for (const p of mine) {
        const op = ops.get(p) as WindowedOperator;
        stage.progress(p, op.firingWatermark, op.watermark);
      }
      for (const r of stage.advance()) emit(r);
      mergeStore = JSON.parse(JSON.stringify(stage.snapshot())) as PartialMergeSnapshot;
    }
    for (const p of mine) {
      if (!dirty.has(p)) continue;
      dirty.delete(p);
      store.set(p, { next: next.get(p)!, idle: firing[worker]!.isIdle(sourceOf(p)), operator: ops.get(p)!.snapshot() });
    }
  };

  start(0);
  for (const s of schedule.steps) {
    const open = [...Array(P).keys()].filter((p) => next.get(p)! < byPartition[p]!.length);
    if (open.length === 0) break;
    const p = open[s.pick % open.length]!;
    const from = next.get(p)!;
    const batch = byPartition[p]!.slice(from, from + s.size);
    const op = ops.get(p)!;
    batch.forEach((e, i) => op.process(e, { source: sourceOf(p), offset: from + i }));
    next.set(p, from + batch.length);
    dirty.add(p);
    const worker = owner[p]!;
    firing[worker]!.advanceSource(sourceOf(p), op.watermark);
    // Timing-dependent idleness: some partition of this worker stops holding its firing W back.
    if (s.idle < P && owner[s.idle] === worker) firing[worker]!.setIdle(sourceOf(s.idle), true);
    step(worker);
    // A kill or a rebalance: every worker restarts from the checkpoints, partitions spread anew.
    if (s.restore) start(s.reassign);
  }
  // The rest, partition by partition (a bounded run reads everything), then the drain.
  for (let p = 0; p < P; p++) {
    const from = next.get(p)!;
    byPartition[p]!.slice(from).forEach((e, i) => ops.get(p)!.process(e, { source: sourceOf(p), offset: from + i }));
    next.set(p, byPartition[p]!.length);
    firing[owner[p]!]!.advanceSource(sourceOf(p), ops.get(p)!.watermark);
    step(owner[p]!);
  }
  for (const op of ops.values()) op.finish();
  firing.forEach((t) => t.finish());
  for (let w = 0; w < schedule.workers; w++) step(w);
  return { late: late.sort(), finals: new Map([...finals].sort(([a], [b]) => (a < b ? -1 : 1))) };
}

/** The final value per cell of one operator over the accepted events alone (nothing can be late for it). */
function acceptedOnly(def: PipelineDefinition, events: { event: AnyEvent; position: { source: string; offset: number } }[], late: Set<string>): Map<string, unknown> {
  const finals = new Map<string, unknown>();
  const op = createOperator(withTiming(def, { maxOutOfOrderness: 1e13 }), { result: (r) => finals.set(cellKey(r), (r as WindowResult).values), late: () => undefined });
  for (const e of events) if (!late.has(`${e.position.source}@${e.position.offset}`)) op.process(e.event, e.position);
  op.finish();
  return new Map([...finals].sort(([a], [b]) => (a < b ? -1 : 1)));
}

const cases: { name: string; base: PipelineDefinition; schema: 'clicks' | 'transactions'; by: string }[] = [
  { name: 'page_views_per_minute (keyed by the partition key)', base: pageViewsPerMinute, schema: 'clicks', by: 'url' },
  { name: 'unique_visitors_5m (merge stage)', base: uniqueVisitors5m(), schema: 'clicks', by: 'url' },
  { name: 'fraud_multi_country (rule keyed by the partition key)', base: fraudMultiCountry(), schema: 'transactions', by: 'user_id' },
];

describe.each(cases)('deterministic lateness: $name', ({ base, schema, by }) => {
  it(`the late set and final results do not depend on interleaving, batching, workers, idleness or restores (${RUNS} runs)`, () => {
    const input = fc.constantFrom(0, 1, 60_000, 300_000).chain((L) =>
      (schema === 'clicks'
        ? clickStreamArb({ maxOutOfOrderness: B, allowedLateness: L, disorder: 'beyond' })
        : transactionStreamArb({ maxOutOfOrderness: B, allowedLateness: L, disorder: 'beyond' })).map((raw) => [raw, L] as const));
    fc.assert(
      fc.property(input, fc.integer({ min: 2, max: 4 }), scheduleArb, scheduleArb, ([raw, L], P, a, b) => {
        const def = withTiming(base, { maxOutOfOrderness: B, allowedLateness: L });
        const byPartition: AnyEvent[][] = Array.from({ length: P }, () => []);
        for (const r of raw) {
          const e = validateEvent(def.schema, r) as AnyEvent;
          byPartition[[...String(e[by])].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 9973, 7) % P]!.push(e);
        }
        const one = simulate(def, byPartition, a);
        const other = simulate(def, byPartition, b);
        expect(other.late).toEqual(one.late);
        expect(other.finals).toEqual(one.finals);
        // The late set is the one rebuilt from partition and offset alone (reconcile without the late log).
        const positioned = byPartition.flatMap((events, p) => events.map((event, offset) => ({ event, position: { source: sourceOf(p), offset } })));
        expect(lateSetByPartition(def, positioned).map((l) => `${l.position.source}@${l.position.offset}`).sort()).toEqual(one.late);
        // Windows: the final value of every cell is exactly that of the accepted events (nothing accepted is lost).
        if (def.kind === 'windowed') {
          expect(one.finals).toEqual(acceptedOnly(def, positioned, new Set(one.late)));
        }
      }),
      { numRuns: RUNS },
    );
  });
});
