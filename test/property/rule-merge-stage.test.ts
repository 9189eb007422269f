import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { definitionVersion, withTiming, type RulePipeline } from '../../pipeline/definition.ts';
import { WatermarkTracker } from '../../pipeline/watermark.ts';
import { decodeLine } from '../../schemas/decode.ts';
import type { AlertResult, LateRecord, ResultRecord } from '../../schemas/results.ts';
import type { AnyEvent } from '../../schemas/schema.ts';
import { fromWire, progressMessage, toForwardedEvent, type MergeMessage } from '../../stream/merge-messages.ts';
import { createOperator } from '../../stream/operators/index.ts';
import { RuleForwarder } from '../../stream/rule-merge-forwarder.ts';
import { RuleMergeStage } from '../../stream/rule-merge.ts';
import type { RuleMergeSnapshot } from '../../stream/rule-merge-checkpoint.ts';
import { ruleOracle } from '../fixtures/oracles.ts';
import { toJsonl, transactionStreamArb } from '../fixtures/arbitraries.ts';
import { LOOKBACK_RULES } from '../fixtures/rule-cases.ts';

// The rule merge stage against one operator. A rule keyed by user_id over a topic partitioned by
// another field (txn_id here): a user's transactions land in several partitions. Workers forward what
// each partition accepted (RuleForwarder) and report each partition's W; the merge runs one operator.
//
// Each partition is judged by its own W, as the stream worker does (stream/worker-partitions.ts). What
// is checked: (1) the same topic contents give the same alerts (key, id, ts, measure, late flag), the
// same late events and the same ones evaluated on arrival, whatever the consumption order (Kafka batches
// are per partition), the number of workers, merge checkpoints and re-sent events; (2) over ONE
// partition the merge is the one operator over that partition; (3) on-time data gives exactly the
// complete-data alerts, each once.
const B = 30_000;
const RUNS = Number(process.env.CONCORD_PROPERTY_RUNS ?? 200);
const TOPIC = 'txns';
const sourceOf = (p: number) => `${TOPIC}:${p}`;

const rules = LOOKBACK_RULES;

interface Step {
  partition: number;
  events: { event: AnyEvent; offset: number }[];
  /** After the step: partitions quiet for the last two steps are marked idle (the worker's idle timeout). */
  idleTick: boolean;
}

/** Kafka's consumption order: per-partition queues in arrival order, read a batch of one partition at a time. */
function consumption(events: AnyEvent[], P: number, choices: number[], sizes: number[], ticks: boolean[]): Step[] {
  const queues = Array.from({ length: P }, () => [] as { event: AnyEvent; offset: number }[]);
  for (const event of events) {
    const id = String(event.txn_id);
    const q = queues[[...id].reduce((h, c) => (h * 31 + c.codePointAt(0)!) % 1_000_003, 7) % P]!;
    q.push({ event, offset: q.length });
  }
  const steps: Step[] = [];
  for (let k = 0; queues.some((q) => q.length > 0); k++) {
    const open = queues.map((q, p) => [q, p] as const).filter(([q]) => q.length > 0);
    const [queue, partition] = open[choices[k % choices.length]! % open.length]!;
    steps.push({ partition, events: queue.splice(0, sizes[k % sizes.length]!), idleTick: ticks[k % ticks.length]! });
  }
  return steps;
}

function quietPartitions(steps: Step[], k: number, P: number): number[] {
  const recent = new Set(steps.slice(Math.max(0, k - 1), k + 1).map((s) => s.partition));
  return [...Array(P).keys()].filter((p) => !recent.has(p));
}

interface Outcome {
  alerts: AlertResult[];
  late: [string, number][];
  evaluatedOnArrival: [string, number][];
}

const lateRow = (l: LateRecord): [string, number] => [String(l.event.txn_id), l.watermark];

function oneOperator(def: RulePipeline, steps: Step[], P: number, idle: boolean): Outcome {
  const o: Outcome = { alerts: [], late: [], evaluatedOnArrival: [] };
  const tracker = new WatermarkTracker(B);
  tracker.addSources([...Array(P).keys()].map((p) => ({ source: sourceOf(p), idle: false })));
  const op = createOperator(def, {
    result: (r) => o.alerts.push(r as AlertResult),
    late: (l) => o.late.push(lateRow(l)),
    lateAccepted: (l) => o.evaluatedOnArrival.push(lateRow(l)),
  }, { tracker });
  steps.forEach((step, k) => {
    for (const e of step.events) op.process(e.event, { source: sourceOf(step.partition), offset: e.offset });
    if (idle && step.idleTick) {
      for (const q of quietPartitions(steps, k, P)) tracker.setIdle(sourceOf(q), true);
      op.onWatermark(tracker.current);
    }
  });
  op.finish();
  return o;
}

/** One message into the stage, through JSON as on the wire. */
function deliver(stage: RuleMergeStage, message: MergeMessage): void {
  const m = JSON.parse(JSON.stringify(message)) as MergeMessage;
  if (m.type === 'event') stage.event(toForwardedEvent(m));
  else if (m.type === 'progress') stage.progress(m.partition, fromWire(m.source_watermark), m.idle);
}

/** A snapshot with its held events and its operator's keys in a fixed order (a restore rebuilds them in the order their records are stored). */
function sortedHeld(snap: RuleMergeSnapshot): RuleMergeSnapshot {
  const state = snap.operator.state as { users: { key: string }[] };
  const users = [...state.users].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { ...snap, held: [...(snap.held ?? [])].sort((a, b) => a[0] - b[0] || a[1] - b[1]), operator: { ...snap.operator, state: { ...state, users } } };
}

/**
 * `workers` workers own the partitions round-robin, each partition with its own W (as the stream
 * worker's partitions), forwarding what they accept and reporting their partitions after each step,
 * into one ordered log the merge reads (the partials partition).
 */
function partitioned(def: RulePipeline, steps: Step[], P: number, opts: { workers: number; idle: boolean; checkpointAt: number; resend: boolean }): Outcome & { duplicates: number } {
  const o: Outcome = { alerts: [], late: [], evaluatedOnArrival: [] };
  const trackers = Array.from({ length: P }, (_, p) => { const t = new WatermarkTracker(B); t.addSource(sourceOf(p), { idle: false }); return t; });
  const ownerOf = (p: number) => p % opts.workers;
  const partitionsOf = (w: number) => [...Array(P).keys()].filter((p) => ownerOf(p) === w);
  const log: MergeMessage[] = [];
  const emitter = { result: () => { throw new Error('a forwarder raised an alert'); }, late: (l: LateRecord) => o.late.push(lateRow(l)), lateAccepted: (l: LateRecord) => o.evaluatedOnArrival.push(lateRow(l)) };
  const forwarders = [...Array(P).keys()].map((p) => new RuleForwarder(def, p, trackers[p]!, emitter, (m) => log.push(m)));
  const reported = new Map<number, string>();
  const report = (worker: number) => {
    for (const p of partitionsOf(worker)) {
      const t = trackers[p]!;
      const w = t.current;
      const own = { watermark: w, idle: t.isIdle(sourceOf(p)) };
      const state = `${w}|${own.watermark}|${own.idle}`;
      if (reported.get(p) === state) continue;
      reported.set(p, state);
      log.push(progressMessage(def.name, definitionVersion(def), p, w, own));
    }
  };
  let stage = new RuleMergeStage(def, TOPIC, P);
  let read = 0;
  let duplicates = 0;
  // The compacted checkpoints topic as kafka-merge.ts writes it: the head, and the latest part per held event and per key of the operator (null: deleted).
  const stored = { head: JSON.parse(JSON.stringify(stage.checkpoint().head)) as RuleMergeSnapshot, parts: new Map<string, string>() };
  const restoredFrom = () => {
    const restored = new RuleMergeStage(def, TOPIC, P);
    restored.restoreParts(stored.head, stored.parts.values());
    return restored;
  };
  const merge = () => {
    for (; read < log.length; read++) deliver(stage, log[read]!);
    o.alerts.push(...(stage.advance() as AlertResult[]));
    const delta = stage.checkpoint();
    stored.head = JSON.parse(JSON.stringify(delta.head)) as RuleMergeSnapshot;
    for (const [id, json] of delta.parts) if (json === null) stored.parts.delete(id); else stored.parts.set(id, json);
    // Restored from the incremental checkpoints (head + parts): the same state as the whole snapshot.
    expect(sortedHeld(restoredFrom().snapshot())).toEqual(sortedHeld(JSON.parse(JSON.stringify(stage.snapshot())) as RuleMergeSnapshot));
  };
  steps.forEach((step, k) => {
    for (const e of step.events) forwarders[step.partition]!.process(e.event, { source: sourceOf(step.partition), offset: e.offset });
    report(ownerOf(step.partition));
    if (opts.idle && step.idleTick) {
      for (const q of quietPartitions(steps, k, P)) trackers[q]!.setIdle(sourceOf(q), true);
      for (let w = 0; w < opts.workers; w++) report(w);
    }
    merge();
    if (k === opts.checkpointAt) stage = restoredFrom();
    if (opts.resend && k % 2 === 1) {
      // A zombie worker's or a rebalance's re-sent events: already merged, they change nothing.
      for (const m of log.filter((x) => x.type === 'event').slice(-3)) { deliver(stage, m); duplicates++; }
      merge();
    }
  });
  // Drain: every worker's W = +infinity, reported for its partitions.
  forwarders.forEach((f) => f.finish());
  for (let w = 0; w < opts.workers; w++) report(w);
  merge();
  return { ...o, duplicates };
}

function decode(def: RulePipeline, raw: Record<string, unknown>[]): AnyEvent[] {
  return toJsonl(raw).map((line, i) => {
    const d = decodeLine(def.schema, line, { source: 'gen', offset: i });
    if (!d.ok) throw new Error(`generated an invalid event: ${d.deadLetter.reason}`);
    return d.event;
  });
}

const alertRow = (a: AlertResult, withWatermark: boolean) => [a.key, a.id, a.ts, a.value, a.late, ...(withWatermark ? [a.watermark] : [])];
const stepsArb = fc.tuple(fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 8 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }));

describe.each(rules)('rule merge stage: $label', ({ def: base }) => {
  it(`late data: the same alerts and late sets whatever the consumption order and the number of workers (${RUNS} runs)`, () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0, 60_000, 300_000).chain((L) => transactionStreamArb({ maxOutOfOrderness: B, allowedLateness: L, disorder: 'beyond' }).map((raw) => [raw, L] as const)),
        fc.integer({ min: 2, max: 4 }), stepsArb, stepsArb, fc.integer({ min: 1, max: 3 }), fc.nat(30), fc.boolean(),
        ([raw, L], P, [choicesA, sizesA], [choicesB, sizesB], workers, checkpointAt, resend) => {
          const def = withTiming(base, { maxOutOfOrderness: B, allowedLateness: L }) as RulePipeline;
          const events = decode(def, raw);
          const a = partitioned(def, consumption(events, P, choicesA, sizesA, [false]), P, { workers: 1, idle: false, checkpointAt: -1, resend: false });
          const b = partitioned(def, consumption(events, P, choicesB, sizesB, [false]), P, { workers, idle: false, checkpointAt, resend });
          const rows = (o: Outcome) => o.alerts.map((x) => JSON.stringify(alertRow(x, false))).sort();
          expect(rows(b)).toEqual(rows(a));
          expect(b.late.map(([id]) => id).sort()).toEqual(a.late.map(([id]) => id).sort());
          expect(b.evaluatedOnArrival.map(([id]) => id).sort()).toEqual(a.evaluatedOnArrival.map(([id]) => id).sort());
        },
      ),
      { numRuns: RUNS },
    );
  });

  it(`one partition: the merge == the one operator over it, late data, idleness, checkpoints and re-sent events included (${RUNS} runs)`, () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0, 60_000, 300_000).chain((L) => transactionStreamArb({ maxOutOfOrderness: B, allowedLateness: L, disorder: 'beyond' }).map((raw) => [raw, L] as const)),
        stepsArb, fc.nat(30), fc.boolean(),
        ([raw, L], [choices, sizes, ticks], checkpointAt, resend) => {
          const def = withTiming(base, { maxOutOfOrderness: B, allowedLateness: L }) as RulePipeline;
          const steps = consumption(decode(def, raw), 1, choices, sizes, ticks);
          const want = oneOperator(def, steps, 1, true);
          const got = partitioned(def, steps, 1, { workers: 1, idle: true, checkpointAt, resend });
          expect(got.alerts.map((a) => alertRow(a, false))).toEqual(want.alerts.map((a) => alertRow(a, false)));
          expect(got.late).toEqual(want.late);
          expect(got.evaluatedOnArrival).toEqual(want.evaluatedOnArrival);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it(`several workers, each with its own W: on-time data gives the complete-data alerts, each once (${RUNS} runs)`, () => {
    fc.assert(
      fc.property(
        transactionStreamArb({ maxOutOfOrderness: B, disorder: 'within' }), fc.integer({ min: 2, max: 6 }), fc.integer({ min: 2, max: 3 }), stepsArb, fc.nat(30), fc.boolean(),
        (raw, P, workers, [choices, sizes, ticks], checkpointAt, resend) => {
          const def = withTiming(base, { maxOutOfOrderness: B, allowedLateness: 60_000 }) as RulePipeline;
          const events = decode(def, raw);
          const steps = consumption(events, P, choices, sizes, ticks);
          const reference = oneOperator(def, steps, P, false);
          const got = partitioned(def, steps, P, { workers, idle: false, checkpointAt, resend });
          expect(got.late).toEqual([]);
          expect(got.evaluatedOnArrival).toEqual([]);
          const sorted = (alerts: AlertResult[]) => alerts.map((a) => JSON.stringify(alertRow(a, false))).sort();
          expect(sorted(got.alerts)).toEqual(sorted(reference.alerts));
          expect(got.alerts.every((a) => !a.late)).toBe(true);
          if (def.rule.measure === 'distinct') {
            // And the one operator is the complete-data rule (the independent oracle of docs/semantics.md).
            const oracle = ruleOracle(events.map((e) => ({ id: String(e.txn_id), ts: Number(e.ts), key: String(e.user_id), value: String(e.country) })), def.rule.span, def.rule.threshold);
            expect(new Map(got.alerts.map((a) => [`${String(a.key.user_id)}|${a.id}`, a.value]))).toEqual(oracle);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('rule merge stage: the worker\'s verdict stands', () => {
  const def = withTiming(LOOKBACK_RULES[0]!.def, { maxOutOfOrderness: 0, allowedLateness: 60_000 }) as RulePipeline;
  const txn = (id: string, ts: number, country: string): AnyEvent => ({ txn_id: id, ts, user_id: 'u1', country, amount: 100 });
  const alerts = (rs: ResultRecord[]) => rs.map((r) => { const a = r as AlertResult; return [a.id, a.value, a.late, a.watermark]; });

  it('a late event waits for the canonical order (what met a lower W goes first, from any partition), then is evaluated at the W the worker met', () => {
    const stage = new RuleMergeStage(def, TOPIC, 2);
    stage.event({ partition: 0, offset: 0, verdictWatermark: -Infinity, sourceWatermark: -Infinity, event: txn('a', 100_000, 'US') });
    // The worker judged b late (its W was 150 000).
    stage.event({ partition: 0, offset: 1, verdictWatermark: 150_000, sourceWatermark: 150_000, event: txn('b', 120_000, 'FR') });
    // Partition 1 never reported: the merged W is -infinity, and partition 1 may still send c (below).
    expect(stage.watermark).toBe(-Infinity);
    expect(alerts(stage.advance())).toEqual([]);
    // c met W 140 000 on partition 1: before b in the canonical order, although it arrived after it. The
    // clock reaches 150 000 (b's partition's W) first: c is decided (it sees a), then b is evaluated (a).
    stage.event({ partition: 1, offset: 0, verdictWatermark: 140_000, sourceWatermark: 140_000, event: txn('c', 141_000, 'DE') });
    stage.progress(1, 160_000, false);
    stage.progress(0, 170_000, false);
    expect(alerts(stage.advance())).toEqual([['c', ['DE', 'US'], false, 150_000], ['b', ['FR', 'US'], true, 150_000]]);
  });

  it('an on-time event the merged W has already passed is decided at once, as on time, never dropped', () => {
    const stage = new RuleMergeStage(def, TOPIC, 2);
    stage.progress(0, 500_000, false);
    stage.progress(1, 500_000, false);
    expect(stage.watermark).toBe(500_000);
    // A worker behind the merge (its W was 50 000) accepted these on time; the merged W passed them long ago.
    stage.event({ partition: 1, offset: 0, verdictWatermark: 50_000, sourceWatermark: 50_000, event: txn('c', 60_000, 'US') });
    stage.event({ partition: 1, offset: 1, verdictWatermark: 50_000, sourceWatermark: 59_999, event: txn('d', 61_000, 'DE') });
    expect(alerts(stage.advance())).toEqual([['d', ['DE', 'US'], false, 500_000]]);
  });

  it('re-sent events change nothing; held events and every partition\'s W survive a checkpoint', () => {
    const stage = new RuleMergeStage(def, TOPIC, 2);
    stage.event({ partition: 0, offset: 7, verdictWatermark: -Infinity, sourceWatermark: -Infinity, event: txn('a', 100_000, 'US') });
    stage.event({ partition: 0, offset: 7, verdictWatermark: -Infinity, sourceWatermark: -Infinity, event: txn('a', 100_000, 'US') });
    expect(stage.stats).toEqual({ events: 1, duplicates: 1 });
    stage.progress(1, 200_000, false);
    expect(alerts(stage.advance())).toEqual([]); // partition 0 holds the merged W at -infinity: a is held
    const copy = new RuleMergeStage(def, TOPIC, 2);
    copy.restore(JSON.parse(JSON.stringify(stage.snapshot())) as RuleMergeSnapshot);
    expect(copy.watermark).toBe(-Infinity);
    copy.event({ partition: 1, offset: 0, verdictWatermark: 200_000, sourceWatermark: 200_000, event: txn('b', 150_001, 'FR') });
    copy.progress(0, Infinity, false);
    // The merged W is partition 1's, 200 000: a is released and decided (nothing before it), b still held.
    expect(copy.watermark).toBe(200_000);
    expect(alerts(copy.advance())).toEqual([]);
    copy.progress(1, Infinity, false);
    expect(alerts(copy.advance())).toEqual([['b', ['FR', 'US'], true, 200_000]]);
    expect(() => copy.progress(2, 0, false)).toThrow(/input partition 2/);
  });
});
