import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fraudMultiCountry, pageViewsPerMinute, uniqueVisitors5m } from '../../examples/seed.ts';
import { withTiming, type PipelineDefinition } from '../../pipeline/definition.ts';
import { resultToJson } from '../../schemas/results.ts';
import { validateEvent, type AnyEvent } from '../../schemas/schema.ts';
import type { OutRecord } from '../../stream/kafka/client.ts';
import { CollectingEmitter, createOperator, type StreamOperator } from '../../stream/operators/index.ts';
import { CHECKPOINT_FORMAT, partitionCheckpointRecords, readPartitionCheckpoints } from '../../stream/partition-checkpoint.ts';
import { batchSizesArb, clickStreamArb, splitIntoBatches, transactionStreamArb } from '../fixtures/arbitraries.ts';

// The worker's incremental checkpoints, as the worker writes them: after each batch (a transaction) whose
// state changed, the head and the parts changed since the last one (a rule's keys, a windowed operator's
// window cells; tombstones for dropped ones) go into a compacted map. Restoring from that map after ANY prefix of transactions, then
// reading the rest, must give the uninterrupted run's alerts and late events, to the letter, and the
// state restored must be the state the uninterrupted run had at that point.
const B = 30_000;
const RUNS = Number(process.env.CONCORD_PROPERTY_RUNS ?? 200);
const HEAD = 'g|t|0';
const SOURCE = 't:0';

type Compacted = Map<string, string>;

/** What a compacted topic keeps: the latest value per key, a tombstone deletes it. */
function apply(topic: Compacted, records: readonly OutRecord[]): void {
  for (const r of records) {
    if (r.value === null) topic.delete(r.key!);
    else topic.set(r.key!, r.value);
  }
}

/**
 * The worker's step: a partition that read records or whose state changed writes its checkpoint records
 * (stream/kafka-worker.ts, stream/worker-partitions.ts); a batch always has records here.
 */
function checkpoint(def: PipelineDefinition, op: StreamOperator, next: number, topic: Compacted): void {
  op.takeChanged();
  apply(topic, partitionCheckpointRecords('cp', HEAD, [def], { operators: [op], next, idle: false }));
}

function restore(def: PipelineDefinition, topic: Compacted, out: CollectingEmitter): { op: StreamOperator; next: number } {
  const { checkpoints: [cp], parts: [parts], next } = readPartitionCheckpoints(topic, HEAD, [def], SOURCE);
  return { op: createOperator(def, out, cp ? { restore: cp.operator, restoreParts: parts! } : {}), next };
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The state as a value, in a canonical order (a restore rebuilds it in the order its records are stored):
 * a rule's keys in key order, windows by start and their panes by id.
 */
function stateOf(op: StreamOperator): unknown {
  const snap = op.snapshot();
  if (Array.isArray(snap.state)) {
    const windows = snap.state as { start: number; panes: { id: string }[] }[];
    return { ...snap, state: [...windows].sort((a, b) => a.start - b.start).map((w) => ({ ...w, panes: [...w.panes].sort((a, b) => byText(a.id, b.id)) })) };
  }
  const state = snap.state as { users: { key: string }[] };
  return { ...snap, state: { ...state, users: [...state.users].sort((a, b) => byText(a.key, b.key)) } };
}

const outputs = (out: CollectingEmitter) => ({ results: out.results.map(resultToJson), lates: out.lates.map((l) => [l.event, l.watermark]) });

function feed(op: StreamOperator, batch: readonly AnyEvent[], first: number): void {
  batch.forEach((event, j) => op.process(event, { source: SOURCE, offset: first + j }));
}

const caseArb = (schema: 'clicks' | 'transactions') => fc.record({
  L: fc.constantFrom(0, 1, 60_000, 300_000),
  span: fc.constantFrom(60_000, 600_000),
  users: fc.integer({ min: 1, max: 12 }),
  raw: schema === 'clicks' ? clickStreamArb({ maxOutOfOrderness: B, disorder: 'beyond' }) : transactionStreamArb({ maxOutOfOrderness: B, disorder: 'beyond' }),
  sizes: batchSizesArb({ maxBatch: 40, maxBatches: 8 }),
  /** Where the run started from a whole checkpoint, as written before incremental ones. */
  wholeAt: fc.option(fc.nat(), { nil: undefined }),
});

/** Per pipeline: its definition, its input and the last format that wrote it whole. */
const cases: [string, (span: number) => PipelineDefinition, 'clicks' | 'transactions', number][] = [
  ['fraud_multi_country (a rule: its keys)', (span) => fraudMultiCountry({ span }), 'transactions', 2],
  ['page_views_per_minute (windowed by url: its window cells)', () => pageViewsPerMinute, 'clicks', 3],
  ['unique_visitors_5m (windowed, unkeyed, HyperLogLog: one cell per window)', () => uniqueVisitors5m(), 'clicks', 3],
];

describe.each(cases)('incremental checkpoints of %s', (_name, pipeline, schema, wholeFormat) => {
  it(`restoring from any prefix of the checkpoints gives the uninterrupted run's state and outputs (${RUNS} runs)`, () => {
    fc.assert(
      fc.property(caseArb(schema), ({ L, span, users, raw, sizes, wholeAt }) => {
        const def = withTiming(pipeline(span), { maxOutOfOrderness: B, allowedLateness: L });
        // More keys than the arbitrary's 4 users, so keys come and go (dropped keys are tombstones).
        const events = raw.map((e, i) => validateEvent(def.schema, schema === 'clicks' ? e : { ...e, user_id: `u${(i * 7 + String(e.country).length) % users}` }) as AnyEvent);
        const batches = splitIntoBatches(events, sizes);
        const upgradeAt = wholeAt === undefined ? -1 : wholeAt % batches.length;

        const uninterrupted = new CollectingEmitter();
        let op = createOperator(def, uninterrupted);
        const topic: Compacted = new Map();
        const prefixes: { topic: Compacted; state: unknown; emitted: number; lates: number; next: number }[] = [];
        let next = 0;
        batches.forEach((batch, k) => {
          feed(op, batch, next);
          next += batch.length;
          if (k === upgradeAt) {
            // A whole record of an older Concord replaces the head, as after a downgrade: the parts already in
            // the map are older than it (and some of them gone), and must not come back.
            op.takeChanged();
            topic.set(`${HEAD}|${def.name}`, JSON.stringify({ format: wholeFormat, next, watermark: null, idle: false, operator: op.snapshot() }));
            const restored = restore(def, topic, uninterrupted);
            expect(restored.next).toBe(next);
            op = restored.op;
          } else checkpoint(def, op, next, topic);
          prefixes.push({ topic: new Map(topic), state: stateOf(op), emitted: uninterrupted.results.length, lates: uninterrupted.lates.length, next });
        });
        op.finish();
        const expected = outputs(uninterrupted);

        for (const prefix of prefixes) {
          const out = new CollectingEmitter();
          out.results.push(...uninterrupted.results.slice(0, prefix.emitted));
          out.lates.push(...uninterrupted.lates.slice(0, prefix.lates));
          const restored = restore(def, prefix.topic, out);
          expect(restored.next).toBe(prefix.next);
          expect(stateOf(restored.op)).toEqual(prefix.state);
          // Carry on as the worker does, checkpointing incrementally on top of the restored map.
          const topic2 = new Map(prefix.topic);
          let offset = prefix.next;
          for (const batch of splitIntoBatches(events.slice(prefix.next), sizes)) {
            feed(restored.op, batch, offset);
            offset += batch.length;
            checkpoint(def, restored.op, offset, topic2);
          }
          expect(stateOf(restore(def, topic2, new CollectingEmitter()).op)).toEqual(stateOf(restored.op));
          restored.op.finish();
          expect(outputs(out)).toEqual(expected);
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe('incremental checkpoints write only what changed', () => {
  it('writes only the keys that changed: a transaction touching one key of many writes one part', () => {
    const def = fraudMultiCountry();
    const op = createOperator(def, new CollectingEmitter());
    const T = Date.UTC(2026, 11, 5);
    const event = (i: number, user: string) => validateEvent(def.schema, { txn_id: `t${i}`, ts: T + i, user_id: user, country: 'US', amount: '1.00' }) as AnyEvent;
    for (let i = 0; i < 100; i++) op.process(event(i, `u${i}`), { source: SOURCE, offset: i });
    op.takeChanged();
    const first = partitionCheckpointRecords('cp', HEAD, [def], { operators: [op], next: 100, idle: false });
    expect(first).toHaveLength(101); // the head and every key
    op.process(event(100, 'u7'), { source: SOURCE, offset: 100 });
    const second = partitionCheckpointRecords('cp', HEAD, [def], { operators: [op], next: 101, idle: false });
    expect(second.map((r) => r.key)).toEqual([first[7]!.key, `${HEAD}|${def.name}`]);
    expect(JSON.parse(second[1]!.value!)).toMatchObject({ format: CHECKPOINT_FORMAT, next: 101, operator: { state: { users: [], inParts: true } } });
  });

  it('writes only the window cells that changed: a transaction adding to one url of many writes one part', () => {
    const def = pageViewsPerMinute;
    const op = createOperator(def, new CollectingEmitter());
    const T = Date.UTC(2026, 11, 5);
    const click = (i: number, url: string) => validateEvent(def.schema, { event_id: `c${i}`, ts: T + i, url, visitor_id: 'v1' }) as AnyEvent;
    for (let i = 0; i < 100; i++) op.process(click(i, `/p/${i}`), { source: SOURCE, offset: i });
    op.takeChanged();
    const first = partitionCheckpointRecords('cp', HEAD, [def], { operators: [op], next: 100, idle: false });
    expect(first).toHaveLength(101); // the head and every cell of the open minute
    op.process(click(100, '/p/7'), { source: SOURCE, offset: 100 });
    const second = partitionCheckpointRecords('cp', HEAD, [def], { operators: [op], next: 101, idle: false });
    expect(second.map((r) => r.key)).toEqual([first[7]!.key, `${HEAD}|${def.name}`]);
    expect(JSON.parse(second[0]!.value!)).toMatchObject({ start: T, id: '/p/7', revision: -1, fired: false });
    expect(JSON.parse(second[1]!.value!)).toMatchObject({ format: CHECKPOINT_FORMAT, next: 101, operator: { state: { inParts: true } } });
  });
});
