import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fraudMultiCountry, pageViewsPerMinute, uniqueVisitors5m } from '../../examples/seed.ts';
import { withTiming, type PipelineDefinition } from '../../pipeline/definition.ts';
import { resultToJson, type EventPosition } from '../../schemas/results.ts';
import { validateEvent, type AnyEvent } from '../../schemas/schema.ts';
import type { OutRecord } from '../../stream/kafka/client.ts';
import { CollectingEmitter, createOperator, type OperatorSnapshot } from '../../stream/operators/index.ts';
import { checkpointKey, partitionCheckpointRecords, readPartitionCheckpoints } from '../../stream/partition-checkpoint.ts';
import { emptyPartitionCounts } from '../../stream/step-counts.ts';
import { wholePartitionCheckpointRecords, wholeRewrite } from '../../stream/upgrade-from.ts';
import { batchSizesArb, clickStreamArb, splitIntoBatches, transactionStreamArb } from '../fixtures/arbitraries.ts';
import { createOperator as createOperator1202aee } from '../fixtures/release-1202aee/stream/operators/index.ts';
import {
  partitionCheckpointRecords as partitionCheckpointRecords1202aee,
  readPartitionCheckpoints as readPartitionCheckpoints1202aee,
} from '../fixtures/release-1202aee/stream/partition-checkpoint.ts';

// A rolling upgrade from release 1202aee (stream/upgrade-from.ts), one input partition handed around a
// mixed group: after each batch (a transaction) the worker holding it checkpoints into a compacted map,
// and the next batch may be taken by a worker of another release, which restores from that map. Workers
// of 1202aee run its own code (test/fixtures/release-1202aee/, vendored); `flagged` ones are this release
// under --upgrade-from 1202aee; `new` ones this release without it. 1202aee never takes a partition a
// `new` worker wrote last (the procedure's second bounce starts once no worker of 1202aee is left; going
// back passes through --upgrade-from again). Every record a flagged worker writes must restore with
// 1202aee's decoder to the writer's state, the map must hold nothing 1202aee would not have written, and
// the results and late events must be those of a run never stopped, to the letter.
const B = 30_000;
const RUNS = Number(process.env.CONCORD_PROPERTY_RUNS ?? 100);
const HEAD = 'g|t|0';
const SOURCE = 't:0';

type Release = 'old' | 'flagged' | 'new';
type Compacted = Map<string, string>;
/** What the test asks of an operator of either release. */
interface Op {
  process(event: AnyEvent, position: EventPosition): void;
  snapshot(): OperatorSnapshot;
  takeChanged(): boolean;
  finish(): void;
}
interface Holder { release: Release; ops: Op[]; leftParts: string[] }

function apply(topic: Compacted, records: readonly OutRecord[]): void {
  for (const r of records) {
    if (r.value === null) topic.delete(r.key!);
    else topic.set(r.key!, r.value);
  }
}

/** A worker of `release` taking the partition from the map. */
function restore(release: Release, defs: readonly PipelineDefinition[], topic: Compacted, out: CollectingEmitter): Holder & { next: number } {
  if (release === 'old') {
    const { checkpoints, next } = readPartitionCheckpoints1202aee(topic, (pipeline) => checkpointKey(HEAD, pipeline), defs, SOURCE);
    return { release, ops: defs.map((def, i) => createOperator1202aee(def, out, checkpoints[i] ? { restore: checkpoints[i].operator } : {})), leftParts: [], next };
  }
  const { checkpoints, parts, next } = readPartitionCheckpoints(topic, HEAD, defs, SOURCE);
  const ops = defs.map((def, i) => createOperator(def, out, checkpoints[i] ? { restore: checkpoints[i].operator, restoreParts: parts[i]! } : {}));
  return { release, ops, leftParts: release === 'flagged' ? wholeRewrite(topic, HEAD, defs, checkpoints).leftParts : [], next };
}

/** The holder's checkpoint records after a batch, as its release writes them. */
function checkpoint(holder: Holder, defs: readonly PipelineDefinition[], next: number): OutRecord[] {
  holder.ops.forEach((op) => op.takeChanged());
  // With this release's counts in them (PartitionCounts): 1202aee's decoder must restore such records as before.
  const state = { operators: holder.ops as never, next, idle: false, counts: { ...emptyPartitionCounts(), events: next } };
  if (holder.release === 'old') return partitionCheckpointRecords1202aee('cp', (pipeline) => checkpointKey(HEAD, pipeline), defs, state);
  if (holder.release === 'new') return partitionCheckpointRecords('cp', HEAD, defs, state);
  const records = wholePartitionCheckpointRecords('cp', HEAD, defs, state, holder.leftParts);
  holder.leftParts = [];
  return records;
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** An operator's state in a canonical order (a restore rebuilds it in the order its records are stored). */
function stateOf(op: Op): unknown {
  const snap = op.snapshot();
  if (Array.isArray(snap.state)) {
    const windows = snap.state as { start: number; panes: { id: string }[] }[];
    return { ...snap, state: [...windows].sort((a, b) => a.start - b.start).map((w) => ({ ...w, panes: [...w.panes].sort((a, b) => byText(a.id, b.id)) })) };
  }
  const state = snap.state as { users: { key: string }[] };
  return { ...snap, state: { ...state, users: [...state.users].sort((a, b) => byText(a.key, b.key)) } };
}

const outputs = (out: CollectingEmitter) => ({ results: out.results.map(resultToJson), lates: out.lates.map((l) => [l.event, l.watermark]) });

/** Per batch: which release holds the partition, and whether it was handed over (restored) before it. */
const scheduleArb = fc.array(fc.record({ release: fc.constantFrom<Release>('old', 'flagged', 'new'), handover: fc.boolean() }), { minLength: 1, maxLength: 12 });

const caseArb = (schema: 'clicks' | 'transactions') => fc.record({
  L: fc.constantFrom(0, 60_000, 300_000),
  users: fc.integer({ min: 1, max: 12 }),
  raw: schema === 'clicks' ? clickStreamArb({ maxOutOfOrderness: B, disorder: 'beyond' }) : transactionStreamArb({ maxOutOfOrderness: B, disorder: 'beyond' }),
  sizes: batchSizesArb({ maxBatch: 40, maxBatches: 10 }),
  schedule: scheduleArb,
});

const cases: [string, () => PipelineDefinition[], 'clicks' | 'transactions'][] = [
  ['clicks (windowed by url, and unkeyed with HyperLogLog)', () => [pageViewsPerMinute, uniqueVisitors5m()], 'clicks'],
  ['transactions (a lookback rule)', () => [fraudMultiCountry()], 'transactions'],
];

describe.each(cases)('--upgrade-from 1202aee, a group of mixed releases: %s', (_name, pipelines, schema) => {
  it(`1202aee's own decoder restores every checkpoint written under it; results and late events as a run never stopped (${RUNS} runs)`, () => {
    fc.assert(
      fc.property(caseArb(schema), ({ L, users, raw, sizes, schedule }) => {
        const defs = pipelines().map((def) => withTiming(def, { maxOutOfOrderness: B, allowedLateness: L }));
        const events = raw.map((e, i) => validateEvent(defs[0]!.schema, schema === 'clicks' ? e : { ...e, user_id: `u${(i * 7 + String(e.country).length) % users}` }) as AnyEvent);
        const batches = splitIntoBatches(events, sizes);
        const feed = (ops: readonly Op[], batch: readonly AnyEvent[], first: number) => batch.forEach((e, j) => ops.forEach((op) => op.process(e, { source: SOURCE, offset: first + j })));

        const uninterrupted = new CollectingEmitter();
        const alone = defs.map((def) => createOperator(def, uninterrupted));
        feed(alone, events, 0);
        alone.forEach((op) => op.finish());

        const out = new CollectingEmitter();
        const topic: Compacted = new Map();
        let holder: Holder | undefined;
        let lastWriter: Release | undefined;
        let next = 0;
        batches.forEach((batch, k) => {
          const step = schedule[k % schedule.length]!;
          // 1202aee never takes a partition a worker without the flag wrote last (it would refuse it).
          const release = step.release === 'old' && lastWriter === 'new' ? 'flagged' : step.release;
          if (holder === undefined || step.handover || holder.release !== release) {
            const taken = restore(release, defs, topic, out);
            expect(taken.next).toBe(next);
            holder = taken;
          }
          feed(holder.ops, batch, next);
          next += batch.length;
          apply(topic, checkpoint(holder, defs, next));
          lastWriter = release;
          if (release !== 'flagged') return;
          // What 1202aee itself writes: one whole record per pipeline, nothing else under the partition.
          expect([...topic.keys()].sort()).toEqual(defs.map((def) => checkpointKey(HEAD, def.name)).sort());
          const old = restore('old', defs, topic, new CollectingEmitter());
          expect(old.next).toBe(next);
          expect(old.ops.map(stateOf)).toEqual(holder.ops.map(stateOf));
        });
        holder?.ops.forEach((op) => op.finish());
        expect(outputs(out)).toEqual(outputs(uninterrupted));
      }),
      { numRuns: RUNS },
    );
  });
});

describe('--upgrade-from 1202aee: a partition taken from a newer checkpoint', () => {
  it('is rewritten at the next transaction though nothing changed, deleting its parts; one 1202aee wrote is not', () => {
    const defs = [pageViewsPerMinute];
    const T = Date.UTC(2026, 11, 5);
    const op = createOperator(defs[0]!, new CollectingEmitter());
    for (let i = 0; i < 5; i++) op.process(validateEvent(defs[0]!.schema, { event_id: `c${i}`, ts: T + i, url: `/p${i}`, visitor_id: 'v' }) as AnyEvent, { source: SOURCE, offset: i });
    const topic: Compacted = new Map();
    apply(topic, partitionCheckpointRecords('cp', HEAD, defs, { operators: [op], next: 5, idle: false }));
    const newer = readPartitionCheckpoints(topic, HEAD, defs, SOURCE).checkpoints;
    const taken = wholeRewrite(topic, HEAD, defs, newer);
    expect(taken).toEqual({ leftParts: [...topic.keys()].filter((key) => key !== checkpointKey(HEAD, defs[0]!.name)), dirty: true });
    expect(taken.leftParts).toHaveLength(5);
    apply(topic, wholePartitionCheckpointRecords('cp', HEAD, defs, { operators: [op], next: 5, idle: false }, taken.leftParts));
    expect([...topic.keys()]).toEqual([checkpointKey(HEAD, defs[0]!.name)]);
    expect(wholeRewrite(topic, HEAD, defs, readPartitionCheckpoints(topic, HEAD, defs, SOURCE).checkpoints)).toEqual({ leftParts: [], dirty: false });
  });
});
