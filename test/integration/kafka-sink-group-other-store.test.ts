import { afterAll, describe, expect, it } from 'vitest';
import { pageViewsPerMinute, seedRegistry } from '../../examples/seed.ts';
import { withTiming } from '../../pipeline/definition.ts';
import { ConcordError } from '../../pipeline/errors.ts';
import { openStore } from '../../store/open-store.ts';
import { KafkaStoreSink } from '../../store/kafka-store-sink.ts';
import type { SqlResultStore } from '../../store/sql-store.ts';
import { BatchProducer, kafkaSettings } from '../../stream/kafka/client.ts';
import { topicNames } from '../../stream/kafka/topics.ts';
import { KafkaWorker } from '../../stream/kafka-worker.ts';
import { deleteTopic, seedTopicsUnderNewPrefix } from '../fixtures/kafka-topics.ts';

// Found walking the Kafka path (2026-12-06): `concord sink` into an embedded DuckDB store, then into
// PostgreSQL with the same (default) group: the second resumed at the offsets the first committed and
// left PostgreSQL empty, "0 results", exit 0. A group that read records, beside a store holding nothing,
// is refused (exit 2) naming a group of the store's own.
const s = kafkaSettings('concord-test-sink-group');
const T0 = Date.UTC(2026, 10, 23, 10);
const DAY = '2026-11-23';
const def = withTiming(pageViewsPerMinute, { maxOutOfOrderness: 1_000, allowedLateness: 0 });

describe('concord sink: a group that sank into another store', () => {
  const stores: SqlResultStore[] = [];
  const topics: string[] = [];
  afterAll(async () => {
    for (const st of stores) await st.close().catch(() => undefined);
    for (const t of topics) await deleteTopic(t).catch(() => undefined);
  });

  it('is refused beside an empty store; its own group fills that store; the same store resumes', async () => {
    const prefix = await seedTopicsUnderNewPrefix('sg', s, topics);
    const producer = await BatchProducer.connect(s);
    const input = topicNames(prefix).input('clicks');
    await producer.send([0, 1, 2, 3, 20].map((m, i) => ({
      topic: input, partition: 0, key: '/a', value: JSON.stringify({ event_id: `c${i}`, ts: T0 + m * 60_000 + 10, url: '/a', visitor_id: `v${i}` }),
    })));
    await producer.close();
    const worker = new KafkaWorker({ pipelines: [def], settings: s, workerId: 'sg', partitions: 1, stopWhenIdleMs: 1_500 });
    expect((await worker.run()).results).toBeGreaterThan(0);

    const fresh = async () => {
      const store = await openStore('duckdb::memory:', { registry: seedRegistry() });
      stores.push(store);
      return store;
    };
    const sink = (store: SqlResultStore, groupId: string) => new KafkaStoreSink({ settings: s, store, pipelines: [def], groupId, stopWhenIdleMs: 1_000 }).run();
    const group = `${prefix}concord-store-sink`;
    const first = await fresh();
    expect((await sink(first, group)).results).toBeGreaterThan(0);
    // When a row was written is the store's own; the rest is what the workers computed.
    const current = async (store: SqlResultStore) => (await store.current(def.name, DAY)).map(({ writtenAt: _, ...row }) => row);
    const rows = await current(first);
    expect(rows.length).toBeGreaterThan(0);

    const second = await fresh();
    const refused = await sink(second, group).then(() => undefined, (e: unknown) => e);
    expect(refused).toBeInstanceOf(ConcordError);
    expect((refused as ConcordError).domain).toBe('user');
    expect((refused as Error).message).toMatch(new RegExp(`^sink group ${group.replace('.', '\\.')} has already read ${prefix.replace('.', '\\.')}concord\\.results \\(to offsets \\d+ of partitions 0\\).*` +
      `this store holds no result, late event or watermark: the group wrote those into another store, or into this one before it was lost .*` +
      `--group ${group.replace('.', '\\.')}-duckdb \\(a store rebuilt after a loss: docs/operations\\.md, "Recovering: the store was lost"\\)$`));
    expect(await current(second)).toEqual([]);

    // The group it names reads the topics from their start: the same rows as the first store's.
    expect((await sink(second, `${group}-duckdb`)).results).toBe(rows.length);
    expect(await current(second)).toEqual(rows);
    // The store the group filled resumes as before (nothing new to write).
    expect((await sink(first, group)).results).toBe(0);
  }, 120_000);
});
