import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ensureTopics, kafkaSettings } from '../../stream/kafka/client.ts';
import { concordTopics } from '../../stream/kafka/topics.ts';
import { adviseCheckpointTopic, checkpointTopicAdvice } from '../../stream/kafka/checkpoint-topic-settings.ts';
import { KafkaWorker } from '../../stream/kafka-worker.ts';
import { seedRegistry } from '../../examples/seed.ts';

// An upgrade keeps the topics an older release made, with that release's settings: Kafka applies a topic's
// config at creation only. A worker of this release says which checkpoint settings its topic lacks and the
// command that applies them (found upgrading a 7bb4ad9 deployment: its checkpoints topic kept the broker's
// 7-day segment.ms and 24 h delete.retention.ms, and nothing said so). The real broker (KAFKA_BROKERS).
const s = kafkaSettings('concord-test');

/** The checkpoints topic as 7bb4ad9 created it: compacted, 64 MiB messages, 100 MiB segments, no segment.ms / delete.retention.ms. */
async function oldCheckpointsTopic(prefix: string): Promise<string> {
  const topic = `${prefix}concord.checkpoints`;
  await ensureTopics(s, [{ name: topic, partitions: 1, config: { 'cleanup.policy': 'compact', 'max.message.bytes': String(64 << 20), 'segment.bytes': String(100 << 20) } }]);
  return topic;
}

describe('the checkpoints topic an older release made', () => {
  it('a worker of this release names it at start', async () => {
    const prefix = `test${randomUUID().slice(0, 8)}.`;
    const topic = await oldCheckpointsTopic(prefix);
    const lines: string[] = [];
    const previous = process.env.CONCORD_TOPIC_PREFIX;
    process.env.CONCORD_TOPIC_PREFIX = prefix;
    try {
      const worker = new KafkaWorker({
        pipelines: [seedRegistry().pipeline('page_views_per_minute')], settings: s, workerId: 'ckpt-settings', partitions: 1, stopWhenIdleMs: 1_000,
        log: (line) => lines.push(line),
      });
      await worker.run();
    } finally {
      if (previous === undefined) delete process.env.CONCORD_TOPIC_PREFIX;
      else process.env.CONCORD_TOPIC_PREFIX = previous;
    }
    expect(lines.filter((line) => line.startsWith(`the checkpoints topic ${topic} has segment.ms=`))).toHaveLength(1);
  });

  it('is named at a worker start with the kafka-configs command; one this release made is not', async () => {
    const topic = await oldCheckpointsTopic(`test${randomUUID().slice(0, 8)}.`);
    const lines: string[] = [];
    await adviseCheckpointTopic(s, topic, (line) => lines.push(line));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^the checkpoints topic ${topic.replace('.', '\\.')} has segment\\.ms=\\d+, delete\\.retention\\.ms=\\d+ `));
    expect(lines[0]).toContain(`kafka-configs --bootstrap-server <broker> --alter --entity-type topics --entity-name ${topic} --add-config segment.ms=3600000,delete.retention.ms=3600000 `);
    // Once per topic and process: the workers of `run --pipeline all` share it.
    await adviseCheckpointTopic(s, topic, (line) => lines.push(line));
    expect(lines).toHaveLength(1);

    const fresh = `test${randomUUID().slice(0, 8)}.`;
    await ensureTopics(s, concordTopics(seedRegistry(), 1, fresh).filter((t) => t.name === `${fresh}concord.checkpoints`));
    await adviseCheckpointTopic(s, `${fresh}concord.checkpoints`, (line) => lines.push(line));
    expect(lines).toHaveLength(1);
  });

  it('leaves settings smaller than this release\'s alone (an operator\'s choice)', () => {
    expect(checkpointTopicAdvice('t', { 'segment.bytes': String(10 << 20), 'segment.ms': '600000', 'delete.retention.ms': '3600000' })).toBeUndefined();
    expect(checkpointTopicAdvice('t', { 'segment.bytes': String(1 << 30), 'segment.ms': '600000' })).toMatch(/has segment\.bytes=1073741824 .* --add-config segment\.bytes=104857600 /);
  });
});
