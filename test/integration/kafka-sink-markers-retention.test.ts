import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pageViewsPerMinute, seedRegistry } from '../../examples/seed.ts';
import { withTiming } from '../../pipeline/definition.ts';
import { openStore } from '../../store/open-store.ts';
import { KafkaStoreSink } from '../../store/kafka-store-sink.ts';
import { committedOffsets, deleteGroups, deleteRecordsBefore, endOffsets } from '../../stream/kafka/admin.ts';
import { BatchProducer, kafkaSettings, TransactionalProducer } from '../../stream/kafka/client.ts';
import { topicNames } from '../../stream/kafka/topics.ts';
import { KafkaWorker } from '../../stream/kafka-worker.ts';
import { deleteTopic, seedTopicsUnderNewPrefix } from '../fixtures/kafka-topics.ts';

// A sink write records the offset after its last record; the markers and aborted records after it are
// passed by the consumer but were in no write's offsets. Once retention emptied such a quiet partition
// to its end, the next start took those offsets for lost records: refused, exit 2, nothing lost. The sink
// records its consumer's position too (store/sink-positions.ts).
const s = kafkaSettings('concord-test-sink-markers');
const T0 = Date.UTC(2026, 10, 23, 10);
const def = withTiming(pageViewsPerMinute, { maxOutOfOrderness: 1_000, allowedLateness: 0 });
const dir = mkdtempSync(join(tmpdir(), 'concord-sink-markers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('concord sink: a partition emptied by retention past the markers after its last record', () => {
  const topics: string[] = [];
  const groups: string[] = [];
  afterAll(async () => {
    await deleteGroups(s, groups);
    for (const t of topics) await deleteTopic(t).catch(() => undefined);
  });

  it('resumes: the store holds the consumer\'s position past them, not only the offset after its last record', async () => {
    const prefix = await seedTopicsUnderNewPrefix('sinkmark', s, topics);
    const names = topicNames(prefix);
    const producer = await BatchProducer.connect(s);
    // Minute 20 moves W past minutes 1 and 2: their clicks after it are late events (allowed lateness 0).
    await producer.send([0, 1, 2, 20, 1, 2, 21].map((m, i) => ({
      topic: names.input('clicks'), partition: 0, key: '/a', value: JSON.stringify({ event_id: `c${i}`, ts: T0 + m * 60_000 + 10, url: '/a', visitor_id: `v${i}` }),
    })));
    await producer.close();
    expect((await new KafkaWorker({ pipelines: [def], settings: s, workerId: 'mark', partitions: 1, stopWhenIdleMs: 1_500 }).run()).late).toBe(2);
    // A writer fenced mid-transaction: its records aborted, after the last late event a sink reads.
    const zombie = await TransactionalProducer.connect(s, `${prefix}rmk-aborted`);
    const tx = await zombie.begin();
    await tx.send([{ topic: names.late, partition: 0, key: 'x', value: '{"aborted":true}' }]);
    await tx.abort();
    await zombie.close();

    const group = `${prefix}concord-store-sink`;
    groups.push(group);
    const sink = async () => {
      const store = await openStore(`duckdb:${join(dir, 'store.duckdb')}`, { registry: seedRegistry() });
      try {
        return await new KafkaStoreSink({ settings: s, store, pipelines: [def], groupId: group, stopWhenIdleMs: 1_000 }).run();
      } finally {
        await store.close();
      }
    };
    expect((await sink()).late).toBe(2);
    // Retention empties the quiet partition to its end: the commit marker, the aborted record and its marker go too.
    const lateEnd = (await endOffsets(s, names.late)).get(0)!;
    await deleteRecordsBefore(s, names.late, new Map([[0, lateEnd]]));
    expect(await sink()).toMatchObject({ results: 0, late: 0 });
  }, 180_000);

  it('a clean stop leaves the group\'s offsets at the store\'s: the next start resumes without a word', async () => {
    // The group committed the offset after each batch's last record, the store the position past the
    // commit marker: every start after a clean stop said "resuming sink group G from this store's
    // offsets, not the group's: ... (1 offsets already in the store, not written again)" for each
    // partition, on every restart of a sink nothing had happened to.
    const prefix = await seedTopicsUnderNewPrefix('sinkclean', s, topics);
    const names = topicNames(prefix);
    const producer = await BatchProducer.connect(s);
    await producer.send([0, 1, 2, 20, 1, 21].map((m, i) => ({
      topic: names.input('clicks'), partition: 0, key: '/a', value: JSON.stringify({ event_id: `c${i}`, ts: T0 + m * 60_000 + 10, url: '/a', visitor_id: `v${i}` }),
    })));
    await producer.close();
    expect((await new KafkaWorker({ pipelines: [def], settings: s, workerId: 'clean', partitions: 1, stopWhenIdleMs: 1_500 }).run()).late).toBe(1);
    const group = `${prefix}concord-store-sink`;
    groups.push(group);
    const lines: string[] = [];
    const store = await openStore(`duckdb:${join(dir, 'clean.duckdb')}`, { registry: seedRegistry() });
    try {
      const sink = () => new KafkaStoreSink({ settings: s, store, pipelines: [def], groupId: group, stopWhenIdleMs: 1_000, log: (l) => lines.push(l) }).run();
      expect((await sink()).late).toBe(1);
      const held = await store.sinkOffsets(group);
      for (const topic of [names.results, names.late]) {
        expect(held.get(topic)?.get(0), topic).toBe((await endOffsets(s, topic)).get(0));
        expect(await committedOffsets(s, group, topic), topic).toEqual(held.get(topic));
      }
      lines.length = 0;
      expect(await sink()).toMatchObject({ results: 0, late: 0 });
      expect(lines.join('\n')).not.toContain('resuming sink group');
    } finally {
      await store.close();
    }
  }, 180_000);
});
