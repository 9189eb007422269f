import { afterAll, describe, expect, it } from 'vitest';
import { fraudMultiCountry, pageViewsPerMinute, seedRegistry, uniqueVisitors5m } from '../../examples/seed.ts';
import type { PipelineDefinition } from '../../pipeline/definition.ts';
import { openStore } from '../../store/open-store.ts';
import { KafkaStoreSink } from '../../store/kafka-store-sink.ts';
import type { SqlResultStore } from '../../store/sql-store.ts';
import { BatchProducer, kafkaSettings, type KafkaSettings } from '../../stream/kafka/client.ts';
import { topicNames } from '../../stream/kafka/topics.ts';
import { KafkaMergeWorker } from '../../stream/kafka-merge.ts';
import { KafkaWorker } from '../../stream/kafka-worker.ts';
import { deleteTopic, seedTopicsUnderNewPrefix } from '../fixtures/kafka-topics.ts';

// The store's watermark (it seals days, feeds /api/status and the lag metric) was taken from result rows
// alone: a rule with no alert left the store without one, and a bounded run whose windows all fired at
// its drain wrote rows at W = +infinity, which the store ignores: no watermark at all. The workers (and
// merge stages) now report how far their committed output reached on concord.watermarks.
const s: KafkaSettings = kafkaSettings('concord-test-store-watermark');
const H = 3_600_000;
const D1 = Date.UTC(2026, 10, 20, 10);
const D2 = Date.UTC(2026, 10, 25, 10); // 5 days on: day 1 is past its end plus the 72 h seal delay
const B = 30_000; // the seed pipelines' max_out_of_orderness

async function produce(topic: string, events: Record<string, unknown>[], key: string): Promise<void> {
  const producer = await BatchProducer.connect(s);
  await producer.send(events.map((e) => ({ topic, partition: 0, key: String(e[key]), value: JSON.stringify(e) })));
  await producer.close();
}

describe('the store\'s watermark over Kafka moves with the stream, not only with result rows', () => {
  const stores: SqlResultStore[] = [];
  const topics: string[] = [];
  afterAll(async () => {
    for (const st of stores) await st.close().catch(() => undefined);
    for (const t of topics) await deleteTopic(t).catch(() => undefined);
  });

  const sinkInto = async (store: SqlResultStore, pipelines: readonly PipelineDefinition[], prefix: string) => {
    await new KafkaStoreSink({ settings: s, store, pipelines, groupId: `${prefix}sink`, stopWhenIdleMs: 1_000 }).run();
  };
  const newStore = async () => {
    const store = await openStore('duckdb::memory:', { registry: seedRegistry() });
    stores.push(store);
    return store;
  };

  it('a rule with events and no alert: the store holds the stream\'s W, running and after a bounded run, and seals by it', async () => {
    const prefix = await seedTopicsUnderNewPrefix('swr', s, topics);
    const fraud = fraudMultiCountry();
    // Five users, two countries each (the rule wants more than 3 in 10 minutes): no alert.
    const events = [D1, D1 + H, D2 - H, D2].flatMap((t, i) => [0, 1, 2, 3, 4].flatMap((u) => ['FR', 'DE'].map((country, c) => ({
      txn_id: `t${i}-${u}-${c}`, ts: t + u * 1_000 + c, user_id: `u${u}`, country, amount: '1.00',
    }))));
    await produce(topicNames(prefix).input('transactions'), events, 'user_id');
    const expected = Math.max(...events.map((e) => e.ts)) - B - 1;

    // A worker still running (stopped here without a drain, as a long-running one looks to the store).
    const running = new KafkaWorker({ pipelines: [fraud], settings: s, workerId: 'swr', partitions: 1 });
    const run = running.run();
    while (running.stats.events < events.length) await new Promise((r) => setTimeout(r, 100));
    running.stop();
    expect((await run).results).toBe(0);
    const store = await newStore();
    await sinkInto(store, [fraud], prefix);
    expect(await store.current(fraud.name, '2026-11-20')).toEqual([]);
    expect(await store.watermark(fraud.name)).toBe(expected);
    // A running stream's input has not ended (the nightly reconcile waits for it: store/input-ends.ts).
    expect(await store.inputEnd(fraud.name)).toBeUndefined();

    // The same group run again, bounded: it reads nothing new and drains; the store stays at the last real W.
    await new KafkaWorker({ pipelines: [fraud], settings: s, workerId: 'swr', partitions: 1, stopWhenIdleMs: 1_500 }).run();
    await sinkInto(store, [fraud], prefix);
    expect(await store.watermark(fraud.name)).toBe(expected);
    // Every partition drained: the store knows the input ended there, and by which run.
    expect(await store.inputEnd(fraud.name)).toMatchObject({ run: expect.stringMatching(/^concord run --stop-when-idle \(group /), at: `every input partition drained (0 to offset ${events.length})`, watermark: expected });
    // Sealed and provisional days as that W says (72 h seal delay).
    expect((await store.status(fraud.name, '2026-11-20')).status).toBe('sealed');
    expect((await store.status(fraud.name, '2026-11-25')).status).toBe('provisional');
  }, 120_000);

  it('a bounded windowed run whose windows all fire at the drain (keyed and merged): the store holds the last finite W', async () => {
    const prefix = await seedTopicsUnderNewPrefix('swb', s, topics);
    const visitors = uniqueVisitors5m();
    const pipelines = [pageViewsPerMinute, visitors];
    // Seconds 1..6 of a minute: W = max ts - B - 1 stays before the first window's end, so every window fires at the drain.
    const events = [1, 2, 3, 4, 5, 6].map((sec, i) => ({ event_id: `c${i}`, ts: D1 + sec * 1_000, url: `/p${i % 2}`, visitor_id: `v${i}` }));
    await produce(topicNames(prefix).input('clicks'), events, 'url');
    const expected = Math.max(...events.map((e) => e.ts)) - B - 1;

    const group = `${prefix}concord-clicks`;
    topics.push(topicNames(prefix).partials('clicks', group)); // made by the worker and merge member
    const merge = new KafkaMergeWorker({ pipelines: [visitors], settings: s, groupId: group, workerId: 'swb', partitions: 1 });
    const merging = merge.run();
    const worker = new KafkaWorker({ pipelines, settings: s, groupId: group, workerId: 'swb', partitions: 1, stopWhenIdleMs: 1_500 });
    expect((await worker.run()).events).toBe(events.length);
    await merge.stopWhenCaughtUp();
    await merging;

    const store = await newStore();
    await sinkInto(store, pipelines, prefix);
    // The rows are there, each at W = +infinity (the drain's), as before.
    expect((await store.current(pageViewsPerMinute.name, '2026-11-20')).map((r) => r.watermark)).toEqual([Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY]);
    expect((await store.current(visitors.name, '2026-11-20')).length).toBe(1);
    expect(await store.watermark(pageViewsPerMinute.name)).toBe(expected);
    expect(await store.watermark(visitors.name)).toBe(expected);
    // Both ended, the merged one once its merge stage drained too.
    expect(await store.inputEnd(pageViewsPerMinute.name)).toMatchObject({ run: `concord run --stop-when-idle (group ${group})`, at: `every input partition drained (0 to offset ${events.length})`, watermark: expected });
    expect(await store.inputEnd(visitors.name)).toMatchObject({ run: `concord run --stop-when-idle (group ${group})`, watermark: expected });
    expect((await store.status(pageViewsPerMinute.name, '2026-11-20')).status).toBe('provisional');
  }, 120_000);
});
