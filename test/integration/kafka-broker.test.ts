import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  BatchConsumer, BatchProducer, KafkaClientError, ProducerFencedError, TransactionalProducer, committedOffsets, endOffsets, ensureTopics, kafkaSettings,
  readToEnd, topicConfig, topicPartitions, type InBatch, type OutRecord,
} from '../../stream/kafka/client.ts';
import { concordTopics, inputTopic, partialsTopic } from '../../stream/kafka/topics.ts';
import { seedRegistry, transactionsSchema } from '../../examples/seed.ts';
import { validateEvent } from '../../schemas/schema.ts';
import { waitFor } from '../../infra/probes.ts';
import { concord } from '../fixtures/cli.ts';

// The real broker from `infra:up` (KAFKA_BROKERS, default 127.0.0.1:9092), through stream/kafka/client.ts,
// no mocks. Every test has its own topics and groups; waits poll with deadlines.
const s = kafkaSettings('concord-test');
const id = () => randomUUID().slice(0, 8);
const unique = (name: string) => `test.${name}.${id()}`;

async function produce(records: OutRecord[], batch = 500): Promise<void> {
  const producer = await BatchProducer.connect(s);
  try {
    for (let i = 0; i < records.length; i += batch) await producer.send(records.slice(i, i + batch));
  } finally {
    await producer.close();
  }
}

/** Reads `topic` in a fresh (or the given) group until `expected` records or, with `toEnd`, every partition's position reached its end offset. */
async function consumeAll(topic: string, groupId: string, expected: number, toEnd?: Map<number, number>): Promise<InBatch[]> {
  const batches: InBatch[] = [];
  const position = new Map<number, number>();
  let n = 0;
  const consumer = await BatchConsumer.start(s, {
    groupId, topics: [topic],
    onBatch: (b) => { batches.push(b); n += b.records.length; },
    onPosition: (p) => position.set(p.partition, p.next),
  });
  try {
    await waitFor(`${expected} records from ${topic}`, async () => {
      if (n < expected) throw new Error(`${n} so far`);
      for (const [p, end] of toEnd ?? []) if ((position.get(p) ?? 0) < end) throw new Error(`partition ${p} at ${position.get(p) ?? 0} of ${end}`);
    }, 30_000);
  } finally {
    await consumer.stop();
  }
  return batches;
}

describe('Kafka client (stream/kafka/client.ts) against the real broker', () => {
  it('creates topics idempotently, with partitions and config', async () => {
    const name = unique('topics');
    expect(await ensureTopics(s, [{ name, partitions: 3, config: { 'cleanup.policy': 'compact', 'max.message.bytes': '2097152' } }])).toEqual([name]);
    // Again, even with other settings: nothing is created or changed.
    expect(await ensureTopics(s, [{ name, partitions: 5 }])).toEqual([]);
    expect(await topicPartitions(s, name)).toBe(3);
    expect(await topicConfig(s, name, ['cleanup.policy', 'max.message.bytes'])).toEqual({ 'cleanup.policy': 'compact', 'max.message.bytes': '2097152' });
    // Concord's own topic set, under a prefix of its own.
    const prefix = `test${id()}.`;
    const specs = concordTopics(seedRegistry(), 2, prefix);
    expect((await ensureTopics(s, specs)).sort()).toEqual(specs.map((t) => t.name).sort());
    expect(await ensureTopics(s, specs)).toEqual([]);
    expect(await topicConfig(s, `${prefix}concord.results`, ['cleanup.policy'])).toEqual({ 'cleanup.policy': 'compact' });
    // Checkpoints are rewritten by every transaction and compacted only in closed segments: 100 MiB ones
    // (the broker's 1 GiB default held 0.8-2.3 GB for ~3 MB of state in the soak).
    // And roll after an hour unfilled (a quiet deployment's deltas stayed uncompacted for the broker's 7 days, all read
    // by every restore), and drop tombstones after an hour, not 24 (a day of forgotten keys read by every restore).
    expect(await topicConfig(s, `${prefix}concord.checkpoints`, ['cleanup.policy', 'segment.bytes', 'segment.ms', 'delete.retention.ms'])).toEqual({
      'cleanup.policy': 'compact', 'segment.bytes': String(100 << 20), 'segment.ms': String(3_600_000), 'delete.retention.ms': String(3_600_000),
    });
    // A user's schema whose name Kafka would refuse (a space, non-ASCII) gets topics by its safe name.
    const hostile = [
      ...concordTopics([{ ...transactionsSchema, name: 'mes trajets é' }], 1, prefix).filter((t) => !specs.some((x) => x.name === t.name)),
      partialsTopic('mes trajets é', 'mon groupe', 1, prefix),
    ];
    expect(hostile.map((t) => t.name)).toEqual([inputTopic('mes trajets é', prefix), `${prefix}concord.partials.${inputTopic('mes trajets é', '')}.${inputTopic('mon groupe', '')}`]);
    expect((await ensureTopics(s, hostile)).sort()).toEqual(hostile.map((t) => t.name).sort());
  });

  // `run` starts a worker and a merge member that both create the same topics (the lost race itself, an
  // "already exists" before the topic is listed, is tested through `run` in test/e2e/kafka-pipeline.test.ts).
  it('creates topics from racing callers: each succeeds, and each topic is reported created by one of them', async () => {
    const prefix = `race${id()}.`;
    const specs = [...concordTopics(seedRegistry(), 2, prefix), partialsTopic('clicks', `${prefix}concord-clicks`, 2, prefix)];
    // As `run --pipeline all` calls it: per schema, a worker and a merge member, each with its own list.
    const lists = [0, 1, 2, 3, 4, 5].map((i) => (i % 2 ? [...specs].reverse() : specs).filter((_, j) => (j + i) % 3 !== 0));
    const created = await Promise.all([specs, ...lists].map((list) => ensureTopics(s, list)));
    expect(created.flat().sort()).toEqual(specs.map((t) => t.name).sort());
  });

  it('round-trips keyed batches: every record once, one partition per key, explicit partitions kept, order kept per partition', async () => {
    const topic = unique('roundtrip');
    await ensureTopics(s, [{ name: topic, partitions: 4 }]);
    const keyed = Array.from({ length: 3_000 }, (_, i) => ({ topic, key: `k${i % 17}`, value: String(i) }));
    const pinned = Array.from({ length: 40 }, (_, i) => ({ topic, key: i % 2 === 0 ? null : `p${i}`, value: `pinned-${i % 4}-${i}`, partition: i % 4 }));
    await produce([...keyed, ...pinned]);
    const batches = await consumeAll(topic, unique('group'), keyed.length + pinned.length);
    const all = batches.flatMap((b) => b.records.map((r) => ({ ...r, partition: b.partition })));
    expect(all).toHaveLength(keyed.length + pinned.length);
    const keyedSeen = all.filter((r) => !r.value.startsWith('pinned'));
    expect(keyedSeen.map((r) => Number(r.value)).sort((a, b) => a - b)).toEqual(keyed.map((_, i) => i));
    const partitionOfKey = new Map<string, number>();
    for (const r of keyedSeen) {
      expect(partitionOfKey.get(r.key!) ?? r.partition).toBe(r.partition);
      partitionOfKey.set(r.key!, r.partition);
    }
    expect(new Set(partitionOfKey.values()).size).toBeGreaterThan(1);
    for (const r of all.filter((x) => x.value.startsWith('pinned'))) {
      const [, partition, i] = r.value.split('-');
      expect(r.partition).toBe(Number(partition));
      expect(r.key).toBe(Number(i) % 2 === 0 ? null : `p${i}`);
    }
    for (const b of batches) {
      const values = b.records.filter((r) => !r.value.startsWith('pinned')).map((r) => Number(r.value));
      expect(values).toEqual([...values].sort((x, y) => x - y));
      expect(b.records.every((r, i) => i === 0 || r.offset > b.records[i - 1]!.offset)).toBe(true);
      expect(b.records.every((r) => r.timestamp > 0)).toBe(true);
    }
  });

  it('commits offsets after each batch: a restarted group member resumes after them', async () => {
    const topic = unique('commit'), group = unique('group');
    await ensureTopics(s, [{ name: topic, partitions: 1 }]);
    await produce(Array.from({ length: 100 }, (_, i) => ({ topic, key: null, value: `a${i}` })));
    await consumeAll(topic, group, 100);
    expect(await committedOffsets(s, group, topic)).toEqual(new Map([[0, 100]]));
    await produce(Array.from({ length: 10 }, (_, i) => ({ topic, key: null, value: `b${i}` })));
    const again = await consumeAll(topic, group, 10);
    expect(again.flatMap((b) => b.records.map((r) => r.value))).toEqual(Array.from({ length: 10 }, (_, i) => `b${i}`));
  });

  it('two members of one group split the partitions between them, and one takes all back when the other leaves', async () => {
    const topic = unique('group2'), group = unique('group');
    await ensureTopics(s, [{ name: topic, partitions: 4 }]);
    type Member = { assigned: number[]; seen: { partition: number; value: string }[]; consumer?: BatchConsumer };
    const start = async (m: Member) => {
      m.consumer = await BatchConsumer.start(s, {
        groupId: group, topics: [topic],
        onAssignment: (parts) => { m.assigned = parts.filter((p) => p.topic === topic).map((p) => p.partition).sort(); },
        onBatch: (b) => { for (const r of b.records) m.seen.push({ partition: b.partition, value: r.value }); },
      });
    };
    const a: Member = { assigned: [], seen: [] }, b: Member = { assigned: [], seen: [] };
    await start(a);
    await waitFor('A owning all 4 partitions', async () => { if (a.assigned.length !== 4) throw new Error(`A has ${a.assigned}`); }, 30_000);
    await start(b);
    await waitFor('A and B splitting the partitions', async () => {
      if (a.assigned.length === 0 || b.assigned.length === 0 || a.assigned.length + b.assigned.length !== 4) throw new Error(`A ${a.assigned} | B ${b.assigned}`);
    }, 30_000);
    expect([...a.assigned, ...b.assigned].sort()).toEqual([0, 1, 2, 3]);
    const aParts = [...a.assigned], bParts = [...b.assigned];

    await produce(Array.from({ length: 400 }, (_, i) => ({ topic, key: null, value: String(i), partition: i % 4 })));
    await waitFor('400 records between A and B', async () => { if (a.seen.length + b.seen.length < 400) throw new Error(`${a.seen.length + b.seen.length} so far`); }, 30_000);
    expect(a.seen.length + b.seen.length).toBe(400);
    expect(a.seen.every((r) => aParts.includes(r.partition))).toBe(true);
    expect(b.seen.every((r) => bParts.includes(r.partition))).toBe(true);
    expect(a.seen.length).toBe(100 * aParts.length);

    await b.consumer!.stop();
    await waitFor('A owning all 4 partitions again', async () => { if (a.assigned.length !== 4) throw new Error(`A has ${a.assigned}`); }, 30_000);
    await a.consumer!.stop();
  });

  it('exactly once: consume, transform and produce in a transaction with the offsets; an aborted transaction leaves no trace', async () => {
    const input = unique('tx-in'), output = unique('tx-out'), group = unique('group');
    await ensureTopics(s, [{ name: input, partitions: 2 }, { name: output, partitions: 2 }]);
    await produce(Array.from({ length: 20 }, (_, i) => ({ topic: input, key: `k${i}`, value: String(i), partition: i % 2 })));

    const consumed: InBatch[] = [];
    const consumer = await BatchConsumer.start(s, { groupId: group, topics: [input], commit: 'none', onBatch: (b) => { consumed.push(b); } });
    const producer = await TransactionalProducer.connect(s, `concord-test-${id()}`);
    try {
      await waitFor('20 input records', async () => { if (consumed.reduce((n, b) => n + b.records.length, 0) < 20) throw new Error('not yet'); }, 30_000);
      const byPartition = (p: number) => consumed.filter((b) => b.partition === p).flatMap((b) => b.records);
      // Committed: partition 0 transformed, its offsets with it.
      await producer.commit(
        byPartition(0).map((r) => ({ topic: output, key: r.key, value: `x${Number(r.value) * 10}` })),
        { generation: consumed.find((x) => x.partition === 0)!.generation, topic: input, partitions: [{ partition: 0, offset: byPartition(0).at(-1)!.offset + 1 }] },
      );
      // Aborted: partition 1 transformed, its offsets with it, then abort.
      const tx = await producer.begin();
      await tx.send(byPartition(1).map((r) => ({ topic: output, key: r.key, value: `aborted-${r.value}` })));
      await tx.sendOffsets({ generation: consumed.find((x) => x.partition === 1)!.generation, topic: input, partitions: [{ partition: 1, offset: byPartition(1).at(-1)!.offset + 1 }] });
      await tx.abort();
    } finally {
      await consumer.stop();
      await producer.close();
    }

    // Read committed, to the end of every partition (the aborted records and the markers take offsets too).
    const ends = await endOffsets(s, output);
    expect([...ends.values()].reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(20);
    const seen = (await consumeAll(output, unique('reader'), 10, ends)).flatMap((b) => b.records.map((r) => r.value));
    expect(seen.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `x${i * 2 * 10}`).sort());
    // The group's offsets: partition 0 committed with the transaction; partition 1's were aborted with it.
    expect(await committedOffsets(s, group, input)).toEqual(new Map([[0, 10]]));
  });

  // The library alone delivered 160 of these 200 aborted records: it drops an aborted transaction only
  // when the abort marker comes in the same fetch response (stream/kafka/read-committed.ts).
  it('read_committed with small fetches: an aborted transaction split over many fetch responses leaves no trace', async () => {
    const topic = unique('split-abort');
    await ensureTopics(s, [{ name: topic, partitions: 1 }]);
    const producer = await TransactionalProducer.connect(s, `concord-test-${id()}`);
    try {
      await producer.commit([{ topic, key: 'a', value: 'committed-1' }], null);
      const tx = await producer.begin();
      for (let i = 0; i < 10; i++) await tx.send(Array.from({ length: 20 }, (_, j) => ({ topic, key: `k${i}-${j}`, value: `aborted-${'x'.repeat(300)}` })));
      await tx.abort();
      await producer.commit([{ topic, key: 'b', value: 'committed-2' }], null);
    } finally {
      await producer.close();
    }
    const before = process.env.CONCORD_KAFKA_MAX_BYTES_PER_PARTITION;
    process.env.CONCORD_KAFKA_MAX_BYTES_PER_PARTITION = '1024';
    try {
      const values = (await readToEnd(s, topic)).map((r) => r.value);
      expect(values).toEqual(['committed-1', 'committed-2']);
    } finally {
      if (before === undefined) delete process.env.CONCORD_KAFKA_MAX_BYTES_PER_PARTITION;
      else process.env.CONCORD_KAFKA_MAX_BYTES_PER_PARTITION = before;
    }
  });

  it('a producer the broker fenced (its transactional id taken over) fails one commit as ProducerFencedError, then re-registers and commits', async () => {
    const topic = unique('fenced');
    await ensureTopics(s, [{ name: topic, partitions: 1 }]);
    const txId = `concord-test-fenced-${id()}`;
    const a = await TransactionalProducer.connect(s, txId);
    const b = await TransactionalProducer.connect(s, txId); // a newer epoch: the broker now refuses a
    try {
      const refused = await a.commit([{ topic, key: 'k', value: 'from the fenced epoch' }], null).then(() => null, (e: unknown) => e);
      expect(refused).toBeInstanceOf(ProducerFencedError);
      expect(String((refused as Error).message)).toMatch(/fenced transactional id .* \((PRODUCER_FENCED|INVALID_PRODUCER_EPOCH)\)/);
      // The same object goes on: a fresh producer registers the id again (fencing b in turn) and commits.
      await a.commit([{ topic, key: 'k', value: 'after re-registering' }], null);
      expect((await readToEnd(s, topic)).map((r) => r.value)).toEqual(['after re-registering']);
    } finally {
      await a.close();
      await b.close().catch(() => undefined);
    }
  });

  it('says what is wrong when the broker does not answer', async () => {
    const nowhere = { brokers: ['127.0.0.1:1'], clientId: 'concord-test' };
    const error = await ensureTopics(nowhere, [{ name: unique('x'), partitions: 1 }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KafkaClientError);
    expect((error as KafkaClientError).message).toMatch(/127\.0\.0\.1:1.*npm run infra:up/);
    expect((error as KafkaClientError).retriable).toBe(true);
  }, 120_000);

  it('concord produce sends valid, seeded, keyed transactions', async () => {
    const prefix = `test${id()}.`;
    const r = concord(['produce', '--schema', 'transactions', '--count', '5000', '--seed', '3', '--date', '2026-11-23'], { CONCORD_TOPIC_PREFIX: prefix });
    expect(r.code).toBe(0);
    const topic = inputTopic('transactions', prefix);
    expect(r.stderr).toMatch(new RegExp(`sent 5000 transactions events to topic "${topic.replaceAll('.', '\\.')}"`));
    // kafkajs printed "TimeoutNegativeWarning: -1796168996360 is a negative number" in every Kafka command on Node 24.
    expect(r.stderr).not.toMatch(/Warning/);
    const ends = await endOffsets(s, topic);
    expect([...ends.values()].reduce((a, b) => a + b, 0)).toBe(5000);
    const records = (await consumeAll(topic, unique('group'), 5000)).flatMap((b) => b.records);
    expect(records).toHaveLength(5000);
    for (const rec of records) {
      const event = validateEvent(transactionsSchema, JSON.parse(rec.value));
      expect(rec.key).toBe(event.user_id);
    }
    expect(new Set(records.map((rec) => rec.key)).size).toBeGreaterThan(100);
  }, 60_000);
});
