import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BatchConsumer, BatchProducer, endOffsets, ensureTopics, kafkaSettings, topicPartitions, type InBatch } from '../../stream/kafka/client.ts';
import { concordTopics, topics } from '../../stream/kafka/topics.ts';
import { transactionsSchema, validateEvent } from '../../schemas/index.ts';
import { waitFor } from '../../infra/probes.ts';
import { concord } from '../fixtures/cli.ts';

// Real broker from `infra:up` (no mocks): a unique topic and group per test.
const s = kafkaSettings('concord-test');
const unique = (name: string) => `test.${name}.${randomUUID().slice(0, 8)}`;

async function consumeAll(topic: string, groupId: string, expected: number): Promise<InBatch[]> {
  const batches: InBatch[] = [];
  let n = 0;
  const consumer = await BatchConsumer.start(s, { groupId, topics: [topic], onBatch: (b) => { batches.push(b); n += b.records.length; } });
  try {
    await waitFor(`${expected} records from ${topic}`, async () => { if (n < expected) throw new Error(`${n} so far`); }, 30_000);
  } finally {
    await consumer.stop();
  }
  return batches;
}

describe('Kafka client against the real broker', () => {
  it('creates topics idempotently, with partitions and config', async () => {
    const name = unique('topics');
    expect(await ensureTopics(s, [{ name, partitions: 3, config: { 'cleanup.policy': 'compact' } }])).toEqual([name]);
    expect(await ensureTopics(s, [{ name, partitions: 3 }])).toEqual([]);
    expect(await topicPartitions(s, name)).toBe(3);
    await ensureTopics(s, concordTopics());
    expect(await topicPartitions(s, topics.results)).toBeGreaterThan(0);
  });

  it('round-trips keyed batches: every record once, one partition per key, order kept per partition', async () => {
    const topic = unique('roundtrip');
    await ensureTopics(s, [{ name: topic, partitions: 4 }]);
    const producer = await BatchProducer.connect(s);
    const records = Array.from({ length: 3_000 }, (_, i) => ({ topic, key: `k${i % 17}`, value: String(i) }));
    for (let i = 0; i < records.length; i += 500) await producer.send(records.slice(i, i + 500));
    await producer.close();
    const batches = await consumeAll(topic, unique('group'), records.length);
    const all = batches.flatMap((b) => b.records.map((r) => ({ ...r, partition: b.partition })));
    expect(all.map((r) => Number(r.value)).sort((a, b) => a - b)).toEqual(records.map((_, i) => i));
    const partitionOfKey = new Map<string, number>();
    for (const r of all) {
      expect(partitionOfKey.get(r.key!) ?? r.partition).toBe(r.partition);
      partitionOfKey.set(r.key!, r.partition);
    }
    for (const b of batches) {
      const values = b.records.map((r) => Number(r.value));
      expect(values).toEqual([...values].sort((x, y) => x - y));
    }
  });

  it('commits offsets after each batch: a restarted group member resumes after them', async () => {
    const topic = unique('commit'), group = unique('group');
    await ensureTopics(s, [{ name: topic, partitions: 1 }]);
    const producer = await BatchProducer.connect(s);
    await producer.send(Array.from({ length: 100 }, (_, i) => ({ topic, key: null, value: `a${i}` })));
    await consumeAll(topic, group, 100);
    await producer.send(Array.from({ length: 10 }, (_, i) => ({ topic, key: null, value: `b${i}` })));
    await producer.close();
    const again = await consumeAll(topic, group, 10);
    expect(again.flatMap((b) => b.records.map((r) => r.value))).toEqual(Array.from({ length: 10 }, (_, i) => `b${i}`));
  });

  it('concord produce sends valid, seeded, keyed transactions', async () => {
    await ensureTopics(s, concordTopics());
    const before = await endOffsets(s, topics.transactions);
    const r = concord(['produce', '--schema', 'transactions', '--count', '5000', '--seed', '3', '--date', '2026-11-23']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/sent 5000 transactions events to topic "transactions"/);
    const after = await endOffsets(s, topics.transactions);
    const sent = [...after].reduce((sum, [p, end]) => sum + end - (before.get(p) ?? 0), 0);
    expect(sent).toBe(5000);
    const total = [...after.values()].reduce((a, b) => a + b, 0);
    const fresh = (await consumeAll(topics.transactions, unique('group'), total))
      .flatMap((b) => b.records.filter((rec) => rec.offset >= (before.get(b.partition) ?? 0)));
    expect(fresh).toHaveLength(5000);
    for (const rec of fresh) {
      const event = validateEvent(transactionsSchema, JSON.parse(rec.value));
      expect(rec.key).toBe(event.user_id);
    }
    expect(new Set(fresh.map((rec) => JSON.parse(rec.value).user_id)).size).toBeGreaterThan(100);
  }, 60_000);
});
