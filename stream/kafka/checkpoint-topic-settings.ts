/**
 * The checkpoints topic's settings on a topic an older release made. Kafka applies a topic's config when
 * the topic is created only: a release that changes concordTopics' settings (100 MiB segments on
 * 2026-12-06; `segment.ms` and `delete.retention.ms` of an hour on 2026-12-07) leaves every existing
 * deployment on the old ones, silently, and its restores keep reading up to a week of uncompacted deltas
 * and a day of tombstones. A worker says so once per topic at start, with the command that applies them.
 */
import { topicConfig, type KafkaSettings } from './client.ts';
import { CHECKPOINT_SEGMENT_BYTES, CHECKPOINT_SEGMENT_MS, CHECKPOINT_TOMBSTONE_MS } from './topics.ts';

/** This release's settings of the checkpoints topic that an existing topic may lack (upper bounds). */
export const CHECKPOINT_TOPIC_LIMITS: Readonly<Record<string, number>> = {
  'segment.bytes': CHECKPOINT_SEGMENT_BYTES,
  'segment.ms': CHECKPOINT_SEGMENT_MS,
  'delete.retention.ms': CHECKPOINT_TOMBSTONE_MS,
};

/**
 * What to say about a checkpoints topic whose settings (as the broker reports them) exceed this release's,
 * or undefined when none does. Smaller values an operator chose are left alone.
 */
export function checkpointTopicAdvice(topic: string, config: Readonly<Record<string, string>>): string | undefined {
  const above = Object.entries(CHECKPOINT_TOPIC_LIMITS).filter(([name, limit]) => config[name] !== undefined && Number(config[name]) > limit);
  if (above.length === 0) return undefined;
  const held = above.map(([name]) => `${name}=${config[name]}`).join(', ');
  const wanted = above.map(([name, limit]) => `${name}=${limit}`).join(',');
  return `the checkpoints topic ${topic} has ${held} (made by an older release; Kafka applies a topic's settings at creation only): `
    + `compaction leaves that much of it uncleaned and every restore reads it; apply this release's settings with `
    + `kafka-configs --bootstrap-server <broker> --alter --entity-type topics --entity-name ${topic} --add-config ${wanted} `
    + `(docs/operations.md, "Upgrading")`;
}

const checked = new Set<string>();

/**
 * Reads the checkpoints topic's settings and logs the advice once per topic and process. Best effort: a
 * principal without DescribeConfigs on the topic (a secured cluster's ACLs) runs as before, unwarned.
 */
export async function adviseCheckpointTopic(s: KafkaSettings, topic: string, log: (line: string) => void): Promise<void> {
  if (checked.has(topic)) return;
  checked.add(topic);
  let config: Record<string, string>;
  try {
    config = await topicConfig(s, topic, Object.keys(CHECKPOINT_TOPIC_LIMITS));
  } catch {
    return;
  }
  const advice = checkpointTopicAdvice(topic, config);
  if (advice !== undefined) log(advice);
}
