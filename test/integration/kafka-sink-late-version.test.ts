import { afterAll, describe, expect, it } from 'vitest';
import { pageViewsPerMinute, seedRegistry } from '../../examples/seed.ts';
import { definitionVersion, withTiming } from '../../pipeline/definition.ts';
import { openStore } from '../../store/open-store.ts';
import { KafkaStoreSink } from '../../store/kafka-store-sink.ts';
import type { SqlResultStore } from '../../store/sql-store.ts';
import { BatchProducer, kafkaSettings } from '../../stream/kafka/client.ts';
import { topicNames } from '../../stream/kafka/topics.ts';
import { KafkaWorker } from '../../stream/kafka-worker.ts';
import { deleteTopic, seedTopicsUnderNewPrefix } from '../fixtures/kafka-topics.ts';

// Two deployments whose pipelines share a name but not a definition (a platform's two teams, or one
// team's changed definition under a new --group) on the same concord.late: a sink given the one
// definition skipped the other's result rows but stored its late events as its own (592 of another
// team's late events in a store, with no word), and reconcile then took them for its late log.
const s = kafkaSettings('concord-test-late-version');
const M = 60_000;
const T0 = Date.UTC(2026, 10, 23, 10);
const DAY = '2026-11-23';
const ours = withTiming(pageViewsPerMinute, { maxOutOfOrderness: 1_000, allowedLateness: 0 });
const theirs = withTiming(pageViewsPerMinute, { maxOutOfOrderness: 1_000, allowedLateness: 10 * M });

/** Minutes 0..4 of /a, one click of minute 1 after them (late under L = 0, on time under L = 10 min), then minute 20. */
function clicks(topic: string) {
  const times = [0, 1, 2, 3, 4].map((m) => T0 + m * M + 10);
  return [...times, T0 + M + 20, T0 + 20 * M].map((ts, i) => ({
    topic, partition: 0, key: '/a', value: JSON.stringify({ event_id: `c${i}`, ts, url: '/a', visitor_id: `v${i}` }),
  }));
}

describe('concord sink: late events of another definition version of a pipeline', () => {
  const stores: SqlResultStore[] = [];
  const topics: string[] = [];
  afterAll(async () => {
    for (const st of stores) await st.close().catch(() => undefined);
    for (const t of topics) await deleteTopic(t).catch(() => undefined);
  });

  it('are skipped and counted like its result rows, not stored as this definition\'s late events', async () => {
    expect(definitionVersion(theirs)).not.toBe(definitionVersion(ours));
    const prefix = await seedTopicsUnderNewPrefix('lv', s, topics);
    const producer = await BatchProducer.connect(s);
    await producer.send(clicks(topicNames(prefix).input('clicks')));
    await producer.close();
    const worker = new KafkaWorker({ pipelines: [ours], settings: s, workerId: 'lv', partitions: 1, stopWhenIdleMs: 1_500 });
    expect((await worker.run()).late).toBe(1);

    const sinkWith = async (def: typeof ours) => {
      const store = await openStore('duckdb::memory:', { registry: seedRegistry() });
      stores.push(store);
      const sink = new KafkaStoreSink({ settings: s, store, pipelines: [def], groupId: `${prefix}sink-${definitionVersion(def)}`, stopWhenIdleMs: 1_000 });
      return { stats: await sink.run(), late: await store.lateEvents(def.name, DAY), rows: await store.current(def.name, DAY) };
    };
    // The definition the workers ran: its rows and its late event.
    const same = await sinkWith(ours);
    expect(same.late.map((l) => l.record.event.event_id)).toEqual(['c5']);
    expect(same.rows.length).toBeGreaterThan(0);
    // Another version of the pipeline: neither its results nor its late events are this store's.
    const other = await sinkWith(theirs);
    expect(other.rows).toEqual([]);
    expect(other.late).toEqual([]);
    expect(other.stats.otherVersion).toBeGreaterThan(0);
    expect(other.stats.otherVersionLate).toBe(1);
  }, 120_000);
});
