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
});
