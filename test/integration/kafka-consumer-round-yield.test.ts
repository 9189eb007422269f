import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BatchConsumer, BatchProducer, ensureTopics, kafkaSettings } from '../../stream/kafka/client.ts';
import { waitFor } from '../../infra/probes.ts';

// The real broker (KAFKA_BROKERS, default 127.0.0.1:9092). A worker alone in its group after a scale-in
// was evicted (UNKNOWN_MEMBER_ID on every group of the process at once) at each first step after its
// restore, a round of a full read-ahead (20,000 records) processed without a turn of the event loop on a
// loaded machine, and read the same records again after each eviction (docs/operations.md).
const s = kafkaSettings('concord-test');
const unique = (name: string) => `test.crash.${name}.${randomUUID().slice(0, 8)}`;

describe('the batches of one fetched round (stream/kafka/consumer.ts)', () => {
  it('the event loop turns between the batches of one fetched round (heartbeats are not held back by a whole read-ahead)', async () => {
    const topic = unique('round'), groupId = unique('group');
    await ensureTopics(s, [{ name: topic, partitions: 3 }]);
    const producer = await BatchProducer.connect(s);
    await producer.send(Array.from({ length: 3000 }, (_, i) => ({ topic, key: null, value: String(i), partition: i % 3 })));
    await producer.close();
    // After a batch that has more behind it in its round, a macrotask scheduled then has run when the next one comes.
    const turned: boolean[] = [];
    let pending: { ran: boolean } | undefined;
    let read = 0, first = true;
    const consumer = await BatchConsumer.start(s, {
      groupId, topics: [topic], commit: 'none',
      onBatch: async (b) => {
        if (pending) turned.push(pending.ran);
        pending = undefined;
        read += b.records.length;
        // The first batch waits, so the records of every partition pile up into the next round.
        if (first) { first = false; await new Promise((resolve) => setTimeout(resolve, 1_500)); }
        if (b.more) { const mark = { ran: false }; pending = mark; setImmediate(() => { mark.ran = true; }); }
      },
    });
    try {
      await waitFor('every record', async () => { if (read < 3000) throw new Error(`${read} so far`); }, 30_000);
      expect(turned.length).toBeGreaterThan(0);
      expect(turned.every((t) => t)).toBe(true);
    } finally {
      await consumer.stop();
    }
  });

  it('with maxBatchRecords, one partition\'s share of a round comes in pieces, the event loop turning between them', async () => {
    // A worker's batch of one partition held the loop 15-20 s at load 12 (every event re-emitting a fired
    // approx_distinct pane): the turn between batches came too late for the heartbeats (docs/operations.md).
    const topic = unique('piece'), groupId = unique('group');
    await ensureTopics(s, [{ name: topic, partitions: 1 }]);
    const producer = await BatchProducer.connect(s);
    await producer.send(Array.from({ length: 3000 }, (_, i) => ({ topic, key: null, value: String(i), partition: 0 })));
    await producer.close();
    const sizes: number[] = [], offsets: number[] = [], turned: boolean[] = [];
    let pending: { ran: boolean } | undefined;
    const consumer = await BatchConsumer.start(s, {
      groupId, topics: [topic], commit: 'none', maxBatchRecords: 500,
      onBatch: (b) => {
        if (pending) turned.push(pending.ran);
        pending = undefined;
        sizes.push(b.records.length);
        offsets.push(...b.records.map((r) => r.offset));
        if (b.more) { const mark = { ran: false }; pending = mark; setImmediate(() => { mark.ran = true; }); }
      },
    });
    try {
      await waitFor('every record', async () => { if (offsets.length < 3000) throw new Error(`${offsets.length} so far`); }, 30_000);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(500);
      expect(offsets).toEqual(Array.from({ length: 3000 }, (_, i) => i));
      expect(turned.length).toBeGreaterThan(0);
      expect(turned.every((t) => t)).toBe(true);
    } finally {
      await consumer.stop();
    }
  });
});
