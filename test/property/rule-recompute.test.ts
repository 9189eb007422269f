import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { DuckDb } from '../../batch/duckdb.ts';
import { ParquetArchive } from '../../batch/parquet-archive.ts';
import { withTiming, type RulePipeline } from '../../pipeline/definition.ts';
import { WatermarkTracker } from '../../pipeline/watermark.ts';
import { sameValueOf } from '../../reconcile/attribution.ts';
import { finalResults } from '../../reconcile/final-results.ts';
import type { LoggedLate } from '../../reconcile/reconcile.ts';
import { recomputeRuleKeys } from '../../reconcile/rule-recompute.ts';
import { decodeLine } from '../../schemas/decode.ts';
import type { AlertResult, KeyValues, LateRecord, ResultRecord } from '../../schemas/results.ts';
import type { AnyEvent } from '../../schemas/schema.ts';
import type { LineBatch } from '../../sources/source.ts';
import { toForwardedEvent } from '../../stream/merge-messages.ts';
import { createOperator, type Emitter } from '../../stream/operators/index.ts';
import { RuleForwarder } from '../../stream/rule-merge-forwarder.ts';
import { RuleMergeStage } from '../../stream/rule-merge.ts';
import { toJsonl, transactionStreamArb } from '../fixtures/arbitraries.ts';
import { LOOKBACK_RULES } from '../fixtures/rule-cases.ts';
import { tempWorkspace } from '../fixtures/workspace.ts';

// Store mode names a late cause for a rule alert only where re-running the key with the workers' logged
// verdicts over the archive gives the realtime alert (reconcile/rule-recompute.ts). On honest data that
// recomputation must BE the stream: every alert of every key, whatever the partitions' interleaving, for
// a rule keyed by the partition key (one operator per partition) and for one keyed by another field (the
// merge stage's canonical order).
const ws = tempWorkspace();
afterAll(() => ws.cleanup());
const RUNS = Math.max(10, Math.floor(Number(process.env.CONCORD_PROPERTY_RUNS ?? 200) / 8));
const B = 30_000;
const TOPIC = 'txns';
const sourceOf = (p: number) => `${TOPIC}:${p}`;
let runNo = 0;

const rules = LOOKBACK_RULES;

async function* asAsync<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items;
}

const hash = (s: string) => [...s].reduce((h, c) => (h * 31 + c.codePointAt(0)!) % 1_000_003, 7);

/** Kafka's consumption order: a batch of one partition at a time. */
function* consumption(partitions: { event: AnyEvent; line: string }[][], choices: number[], sizes: number[]): Generator<{ p: number; from: number; to: number }> {
  const next = partitions.map(() => 0);
  for (let k = 0; next.some((n, p) => n < partitions[p]!.length); k++) {
    const open = [...partitions.keys()].filter((p) => next[p]! < partitions[p]!.length);
    const p = open[choices[k % choices.length]! % open.length]!;
    const from = next[p]!, to = Math.min(partitions[p]!.length, from + sizes[k % sizes.length]!);
    next[p] = to;
    yield { p, from, to };
  }
}

/** The workers: per partition, the rule operator (partition key = rule key) or a forwarder to the merge stage. */
function stream(def: RulePipeline, partitions: { event: AnyEvent; line: string }[][], merged: boolean, choices: number[], sizes: number[], idles: boolean[] = []) {
  const realtime: ResultRecord[] = [];
  const logged: LoggedLate[] = [];
  const emitter: Emitter = {
    result: (r) => realtime.push(r),
    late: (l: LateRecord) => logged.push({ record: l, evaluatedOnArrival: false }),
    lateAccepted: (l: LateRecord) => logged.push({ record: l, evaluatedOnArrival: true }),
  };
  const stage = new RuleMergeStage(def, TOPIC, partitions.length);
  let k = 0;
  // The merge stage's records of the events it fed out of the canonical order (stream/out-of-order-log.ts).
  const logOutOfOrder = () => {
    for (const d of stage.takeOutOfOrder()) {
      logged.push({
        record: { pipeline: def.name, event: d.event, position: { source: sourceOf(d.partition), offset: d.offset }, watermark: d.verdictWatermark },
        evaluatedOnArrival: d.evaluatedOnArrival, decidedAfterWakeup: { at: d.decidedAt, order: d.order },
      });
    }
  };
  const trackers = partitions.map((_, p) => { const t = new WatermarkTracker(B); t.addSource(sourceOf(p), { idle: false }); return t; });
  const ops = partitions.map((_, p) => merged
    ? new RuleForwarder(def, p, trackers[p]!, emitter, (m) => stage.event(toForwardedEvent(JSON.parse(JSON.stringify(m)))))
    : createOperator(def, emitter, { tracker: trackers[p]! }));
  for (const { p, from, to } of consumption(partitions, choices, sizes)) {
    for (let o = from; o < to; o++) ops[p]!.process(partitions[p]![o]!.event, { source: sourceOf(p), offset: o });
    if (merged) {
      stage.progress(p, trackers[p]!.current, false);
      // The others' idle timeouts, as processing time would have them: a partition reported idle stops
      // holding the merged W back until it delivers again (possibly behind the merge).
      partitions.forEach((_, q) => { if (q !== p && idles.length > 0 && idles[(k++) % idles.length]) stage.progress(q, trackers[q]!.current, true); });
      realtime.push(...stage.advance());
      logOutOfOrder();
    }
  }
  ops.forEach((op) => op.finish());
  if (merged) {
    partitions.forEach((_, p) => stage.progress(p, trackers[p]!.current, false));
    realtime.push(...stage.advance());
    logOutOfOrder();
  }
  return { realtime, logged };
}

describe.each(rules)('property: the store-mode recomputation of a rule is the stream ($label)', ({ def: base }) => {
  // Idle: partitions reported idle at random between batches (deterministically, as a worker's idle timeout
  // would from processing time); one waking up behind the merge is fed out of the canonical order, which
  // the merge's records in the late log let the recomputation reproduce (without them: other alerts).
  it.each([{ merged: false, idle: false }, { merged: true, idle: false }, { merged: true, idle: true }])(`every alert of every key, merge stage: $merged, idle partitions: $idle (${RUNS} runs)`, async ({ merged, idle }) => {
    const db = await DuckDb.open();
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(0, 60_000, 300_000).chain((L) => transactionStreamArb({ maxOutOfOrderness: B, allowedLateness: L, disorder: 'beyond' }).map((raw) => [raw, L] as const)),
          fc.integer({ min: 1, max: 3 }), fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 8 }),
          fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
          async ([raw, L], P, choices, sizes, idles) => {
            const def = withTiming(base, { maxOutOfOrderness: B, allowedLateness: L }) as RulePipeline;
            const partitions: { event: AnyEvent; line: string }[][] = Array.from({ length: P }, () => []);
            toJsonl(raw).forEach((line, i) => {
              const d = decodeLine(def.schema, line, { source: 'gen', offset: i });
              if (!d.ok) throw new Error(`generated an invalid event: ${d.deadLetter.reason}`);
              // Keyed by the rule's key (one operator per partition), or by the id (the merge stage).
              partitions[hash(String(merged ? d.event.txn_id : d.event.user_id)) % P]!.push({ event: d.event, line });
            });
            const { realtime, logged } = stream(def, partitions, merged, choices, sizes, idle ? idles : []);
            const batches: LineBatch[] = partitions.map((events, p) => ({ source: sourceOf(p), firstOffset: 0, lines: events.map((e) => e.line) }));
            const dir = join(ws.dir, `run-${runNo++}`);
            await new ParquetArchive(dir, def.schema).write(asAsync(batches));

            const keys = new Map<string, KeyValues>();
            for (const r of raw) keys.set(String(r.user_id), { user_id: String(r.user_id) });
            const rec = await recomputeRuleKeys(db, def, dir, [...keys.values()], logged, undefined);
            const want = finalResults(realtime);
            const same = sameValueOf(def);
            const row = (a: ResultRecord | undefined) => (a === undefined ? null : [(a as AlertResult).value]);
            for (const cell of new Set([...want.keys(), ...rec.alerts.keys()])) {
              const w = want.get(cell), got = rec.alerts.get(cell);
              if (!same(w, got)) expect([cell, row(got)]).toEqual([cell, row(w)]);
            }
          },
        ),
        { numRuns: RUNS, endOnFailure: true },
      );
    } finally {
      db.close();
    }
  }, 600_000);
});
