/**
 * The one module that talks to Kafka (kafkajs underneath; see docs/decisions.md). The rest of the
 * code sees batches of plain records, never the client library.
 */
import { Kafka, logLevel, Partitioners, type Admin, type Consumer, type Producer } from 'kafkajs';
import { ConcordError } from '../../pipeline/errors.ts';

export class KafkaClientError extends ConcordError {
  constructor(message: string, cause?: unknown) {
    super(message, { domain: 'external', retriable: true, cause });
  }
}

export interface KafkaSettings {
  /** host:port list; env KAFKA_BROKERS, default 127.0.0.1:9092. */
  brokers: string[];
  clientId: string;
}

export function kafkaSettings(clientId = 'concord'): KafkaSettings {
  return { brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((b) => b.trim()).filter(Boolean), clientId };
}

export interface TopicSpec {
  name: string;
  partitions: number;
  config?: Record<string, string>;
}

export interface OutRecord {
  topic: string;
  key: string | null;
  value: string;
  partition?: number;
}

export interface InRecord {
  offset: number;
  key: string | null;
  value: string;
  timestamp: number;
}

export interface InBatch {
  topic: string;
  partition: number;
  records: InRecord[];
  /** Offset after the last record of the partition's log when fetched (lag = highWatermark - next offset). */
  highWatermark: number;
}

function client(s: KafkaSettings): Kafka {
  // kafkajs logs retriable coordinator hiccups as ERROR; Concord reports what matters itself.
  return new Kafka({ clientId: s.clientId, brokers: s.brokers, logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100 } });
}

async function wrap<T>(what: string, s: KafkaSettings, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw new KafkaClientError(`${what} failed against ${s.brokers.join(',')}: ${error instanceof Error ? error.message : String(error)} (is the broker up? \`npm run infra:up\`)`, error);
  }
}

/** Creates missing topics; existing ones are left as they are (idempotent). Returns the names created. */
export async function ensureTopics(s: KafkaSettings, topics: readonly TopicSpec[]): Promise<string[]> {
  const admin: Admin = client(s).admin();
  return wrap('creating topics', s, async () => {
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const missing = topics.filter((t) => !existing.has(t.name));
      if (missing.length > 0) {
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((t) => ({
            topic: t.name,
            numPartitions: t.partitions,
            replicationFactor: 1,
            configEntries: Object.entries(t.config ?? {}).map(([name, value]) => ({ name, value })),
          })),
        });
      }
      return missing.map((t) => t.name);
    } finally {
      await admin.disconnect();
    }
  });
}

export async function topicPartitions(s: KafkaSettings, topic: string): Promise<number> {
  const admin = client(s).admin();
  return wrap('reading topic metadata', s, async () => {
    await admin.connect();
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      return meta.topics[0]?.partitions.length ?? 0;
    } finally {
      await admin.disconnect();
    }
  });
}

/** End offsets per partition (the offset the next record will get). */
export async function endOffsets(s: KafkaSettings, topic: string): Promise<Map<number, number>> {
  const admin = client(s).admin();
  return wrap('reading end offsets', s, async () => {
    await admin.connect();
    try {
      return new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
    } finally {
      await admin.disconnect();
    }
  });
}

/** Idempotent producer (acks = all) sending batches; keyed records go to partition by murmur2 of the key. */
export class BatchProducer {
  private readonly producer: Producer;
  private readonly settings: KafkaSettings;

  private constructor(s: KafkaSettings, producer: Producer) {
    this.settings = s;
    this.producer = producer;
  }

  static async connect(s: KafkaSettings): Promise<BatchProducer> {
    const producer = client(s).producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    await wrap('connecting a producer', s, () => producer.connect());
    return new BatchProducer(s, producer);
  }

  async send(records: readonly OutRecord[]): Promise<void> {
    if (records.length === 0) return;
    const byTopic = new Map<string, { key: string | null; value: string; partition?: number }[]>();
    for (const r of records) {
      let list = byTopic.get(r.topic);
      if (!list) byTopic.set(r.topic, (list = []));
      list.push(r.partition === undefined ? { key: r.key, value: r.value } : { key: r.key, value: r.value, partition: r.partition });
    }
    await wrap('producing', this.settings, () =>
      this.producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) }),
    );
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
  }
}

export interface ConsumeOptions {
  groupId: string;
  topics: string[];
  /** Start from the earliest offset when the group has no committed offset (default true). */
  fromBeginning?: boolean;
  /** Called with each fetched batch, in order per partition; offsets are committed after it returns. */
  onBatch: (batch: InBatch) => Promise<void> | void;
  onAssignment?: (partitions: { topic: string; partition: number }[]) => void;
}

/** A consumer-group member processing whole batches, committing offsets after each. */
export class BatchConsumer {
  private readonly consumer: Consumer;
  private readonly settings: KafkaSettings;

  private constructor(s: KafkaSettings, consumer: Consumer) {
    this.settings = s;
    this.consumer = consumer;
  }

  static async start(s: KafkaSettings, options: ConsumeOptions): Promise<BatchConsumer> {
    const consumer = client(s).consumer({ groupId: options.groupId, sessionTimeout: 30_000, heartbeatInterval: 3_000, readUncommitted: false });
    const self = new BatchConsumer(s, consumer);
    await wrap('joining the consumer group', s, async () => {
      await consumer.connect();
      if (options.onAssignment) {
        consumer.on(consumer.events.GROUP_JOIN, (e) => {
          const assignment = e.payload.memberAssignment as Record<string, number[]>;
          options.onAssignment!(Object.entries(assignment).flatMap(([topic, parts]) => parts.map((partition) => ({ topic, partition }))));
        });
      }
      await consumer.subscribe({ topics: options.topics, fromBeginning: options.fromBeginning ?? true });
      await consumer.run({
        eachBatchAutoResolve: false,
        autoCommit: false,
        eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }) => {
          if (!isRunning() || isStale()) return;
          const records: InRecord[] = batch.messages.map((m) => ({
            offset: Number(m.offset),
            key: m.key === null ? null : m.key.toString('utf8'),
            value: m.value === null ? '' : m.value.toString('utf8'),
            timestamp: Number(m.timestamp),
          }));
          await options.onBatch({ topic: batch.topic, partition: batch.partition, records, highWatermark: Number(batch.highWatermark) });
          const last = batch.lastOffset();
          resolveOffset(last);
          await commitOffsetsIfNecessary({ topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: String(Number(last) + 1) }] }] });
          await heartbeat();
        },
      });
    });
    return self;
  }

  async stop(): Promise<void> {
    await wrap('leaving the consumer group', this.settings, () => this.consumer.disconnect());
  }
}
