import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BatchConsumer, BatchProducer, KafkaClientError, ensureTopics, kafkaSettings } from '../../stream/kafka/client.ts';
import { waitFor } from '../../infra/probes.ts';

// The real broker (KAFKA_BROKERS, default 127.0.0.1:9092). A worker whose consumer was replaced after a
// refused commit died with `TypeError: Cannot read properties of undefined (reading 'partitions')` from the
// library's fetch loop (docs/operations.md, 'A consumer replaced while its member id was lost'). The state
// is the library's own: its heartbeat handler nulls `memberId` on UNKNOWN_MEMBER_ID / FENCED_INSTANCE_ID
// (consumer.js #getRejoinError) and rejoins; set here directly, as the broker's timing would set it.
const s = kafkaSettings('concord-test');
const unique = (name: string) => `test.crash.${name}.${randomUUID().slice(0, 8)}`;

/** The library objects BatchConsumer keeps private. */
interface Inside {
  consumer: { memberId: string | null; topics: { clear(): void } };
  stream: { closed: boolean; destroyed: boolean; once(event: 'fetch', listener: () => void): unknown };
}
const inside = (c: BatchConsumer) => c as unknown as Inside;

let uncaught: unknown[] = [];
const onUncaught = (e: unknown) => { uncaught.push(e); };
beforeEach(() => { uncaught = []; process.on('uncaughtException', onUncaught); });
afterEach(() => { process.off('uncaughtException', onUncaught); });

async function started(onError?: (e: KafkaClientError) => void): Promise<{ consumer: BatchConsumer; read: () => number; topic: string }> {
  const topic = unique('in'), groupId = unique('group');
  await ensureTopics(s, [{ name: topic, partitions: 2 }]);
  const producer = await BatchProducer.connect(s);
  await producer.send(Array.from({ length: 20 }, (_, i) => ({ topic, key: null, value: String(i), partition: i % 2 })));
  await producer.close();
  let read = 0, assigned = 0;
  const consumer = await BatchConsumer.start(s, {
    groupId, topics: [topic], instanceId: unique('member'), commit: 'none',
    onAssignment: (parts) => { assigned = parts.length; },
    onBatch: (b) => { read += b.records.length; },
    ...(onError ? { onError } : {}),
  });
  await waitFor('the assignment and the records', async () => { if (assigned !== 2 || read < 20) throw new Error(`${assigned} partitions, ${read} records`); }, 30_000);
  return { consumer, read: () => read, topic };
}

describe('a consumer stopped or closed under its fetch loop (stream/kafka/consumer.ts)', () => {
  it('stop() of a member whose id the library dropped (rejoin pending), with a fetch in flight: the answer does not reach a fetch loop running on without topics', async () => {
    const { consumer } = await started();
    const stream = inside(consumer).stream;
    // Without a member id, the library's close(true) skips LeaveGroup and with it the closing of the streams.
    inside(consumer).consumer.memberId = null;
    // One fetch answered; the stream sends the next one at once (maxWaitTime: the broker holds it 500 ms).
    await new Promise<void>((resolve) => stream.once('fetch', () => resolve()));
    await new Promise((resolve) => setImmediate(resolve));
    await consumer.stop();
    // Closed by stop() itself. Left open, the answer of the fetch in flight came back to it and the loop
    // went on with a metadata lookup for no topics (the consumer's, cleared by its close): a TypeError
    // thrown from the library's callback (or, with the guard, a failed fetch).
    expect(stream.closed || stream.destroyed).toBe(true);
    expect(uncaught).toEqual([]);
  });

  it('a stream whose consumer no longer follows its topic fails with a KafkaClientError instead of throwing from the library', async () => {
    const failures: KafkaClientError[] = [];
    const { consumer, topic } = await started((e) => failures.push(e));
    try {
      // What the library's close does after LeaveGroup (topics.clear()), with the stream still open.
      inside(consumer).consumer.topics.clear();
      await waitFor('the consumer to report the failure', async () => { if (failures.length === 0 && uncaught.length === 0) throw new Error('nothing yet'); }, 30_000);
      expect(uncaught).toEqual([]);
      expect(failures[0]).toBeInstanceOf(KafkaClientError);
      expect(failures[0]!.message).toContain(`no longer follows ${topic}`);
    } finally {
      await consumer.stop().catch(() => undefined);
    }
  });
});
