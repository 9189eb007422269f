import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TransactionalProducer, ensureTopics, kafkaSettings, readLatestByKey } from '../../stream/kafka/client.ts';

// Concord's own records read back whole: a checkpoint over the input line limit (CONCORD_MAX_LINE_BYTES,
// 1 MiB, meant for input events) is still a checkpoint. A rule merge stage's head (the operator's state:
// every account's payments of the last hour) reached 1.2 MiB in a two-worker run; read back as an empty
// value, it was taken for "no checkpoint", and the member that took the merge over started afresh at
// the committed offset: the day's last alerts were never raised.
const s = kafkaSettings('concord-test');

describe('readLatestByKey: records of any size the topic takes', () => {
  it('returns a value over the line limit whole, and a tombstone still deletes its key', async () => {
    const topic = `test.large-records.${randomUUID().slice(0, 8)}`;
    await ensureTopics(s, [{ name: topic, partitions: 1, config: { 'cleanup.policy': 'compact', 'max.message.bytes': String(64 << 20) } }]);
    const head = JSON.stringify({ next: 103433, state: 'x'.repeat(1_300_000) });
    const producer = await TransactionalProducer.connect(s, `concord-test-large-${randomUUID().slice(0, 8)}`);
    try {
      await producer.commit([
        { topic, key: 'head', value: head },
        { topic, key: 'small', value: '{"next":1}' },
        { topic, key: 'gone', value: '{"next":2}' },
        { topic, key: 'gone', value: null },
      ], null);
    } finally {
      await producer.close();
    }
    const stored = await readLatestByKey(s, topic);
    expect(stored.get('head')?.length).toBe(head.length);
    expect(stored.get('small')).toBe('{"next":1}');
    expect(stored.has('gone')).toBe(false);
  });
});
