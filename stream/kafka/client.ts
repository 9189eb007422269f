/**
 * The one module the rest of the code imports to talk to Kafka (`@platformatic/kafka` underneath, in
 * admin.ts, producer.ts and consumer.ts; see docs/decisions.md). The rest of the code sees batches of
 * plain records, never the client library.
 */
export {
  GroupFencedError, KafkaClientError, ProducerFencedError, kafkaSettings,
  type ConsumedOffsets, type GroupGeneration, type InBatch, type InRecord, type KafkaSettings, type OutRecord, type TopicSpec,
} from './common.ts';
export { committedOffsets, endOffsets, ensureTopics, groupHasMembers, setGroupOffsets, startOffsets, topicConfig, topicId, topicPartitions } from './admin.ts';
export { BatchProducer, KafkaTransaction, MAX_KEY_CHARS, TransactionalProducer } from './producer.ts';
export { BatchConsumer } from './consumer.ts';
export { sessionTimeoutMs, type ConsumeOptions } from './consume-options.ts';
export { readLatestByKey, readToEnd } from './read-to-end.ts';
export { FollowedTopic } from './followed-topic.ts';
export { CaughtUpWatch, REBALANCE_MARGIN_MS } from './caught-up.ts';
