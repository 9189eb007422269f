/**
 * The one module that talks to Kafka (kafkajs underneath; see docs/decisions.md). The rest of
 * the code sees batches of plain records, never the client library.
 */
import { Kafka, logLevel, Partitioners, type Admin, type ConfigResourceTypes, type Consumer, type Producer, type Transaction } from 'kafkajs';

// kafkajs's ConfigResourceTypes.TOPIC (a CommonJS export Node cannot see as a named ESM export).
const TOPIC_RESOURCE = 2 as ConfigResourceTypes;
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

/**
 * `wrap` for reads that are safe to repeat: retries errors the broker marks retriable for up to 30 s.
 * Right after topics are created (by this or another process) a busy broker answered "not the leader
 * for that topic-partition" to ListOffsets for a while, and kafkajs's admin does not retry that itself.
 */
async function wrapRead<T>(what: string, s: KafkaSettings, fn: () => Promise<T>): Promise<T> {
  const started = Date.now();
  for (let delay = 50; ; delay = Math.min(delay * 2, 1_000)) {
    try {
      return await fn();
    } catch (error) {
      const retriable = (error as { retriable?: unknown } | null)?.retriable === true;
      if (!retriable || Date.now() - started > 30_000) return wrap(what, s, () => Promise.reject(error));
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/**
 * Polls until every partition of `topics` has a leader that answers. The controller acknowledges a new
 * topic before brokers know it: a broker just started with many logs to load answered "This server
 * does not host this topic-partition" for seconds, which kafkajs's own waitForLeaders does not retry;
 * and metadata can list a leader before that leader serves the partition ("not the leader"), which
 * made the first produce fail and kafkajs's idempotent producer then stumble over its own sequence
 * numbers (OUT_OF_ORDER_SEQUENCE_NUMBER). ListOffsets is answered by the leader itself, so a success
 * for every partition means the topic is ready.
 */
async function waitForLeaders(admin: Admin, topics: readonly TopicSpec[], deadlineMs = 30_000): Promise<void> {
  const started = Date.now();
  let last = '';
  for (;;) {
    try {
      const meta = await admin.fetchTopicMetadata({ topics: topics.map((t) => t.name) });
      const waiting = topics.filter((t) => {
        const parts = meta.topics.find((m) => m.name === t.name)?.partitions ?? [];
        return parts.length < t.partitions || parts.some((p) => p.leader < 0);
      });
      if (waiting.length === 0) {
        for (const t of topics) await admin.fetchTopicOffsets(t.name);
        return;
      }
      last = `no leader yet for ${waiting.map((t) => t.name).join(', ')}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() - started > deadlineMs) throw new Error(`topics had no serving leaders within ${deadlineMs / 1000} s (${last})`);
    await new Promise((r) => setTimeout(r, 100));
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
          waitForLeaders: false,
          topics: missing.map((t) => ({
            topic: t.name,
            numPartitions: t.partitions,
            replicationFactor: 1,
            configEntries: Object.entries(t.config ?? {}).map(([name, value]) => ({ name, value })),
          })),
        });
      }
      // Also topics another process has just created: they may not be served yet either (their
      // partition count is whatever they were created with: only the new ones' is checked).
      await waitForLeaders(admin, topics.map((t) => (missing.includes(t) ? t : { ...t, partitions: 1 })));
      return missing.map((t) => t.name);
    } finally {
      await admin.disconnect();
    }
  });
}

export async function topicPartitions(s: KafkaSettings, topic: string): Promise<number> {
  const admin = client(s).admin();
  return wrapRead('reading topic metadata', s, async () => {
    await admin.connect();
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      return meta.topics[0]?.partitions.length ?? 0;
    } finally {
      await admin.disconnect();
    }
  });
}

/** The topic's configuration values as the broker reports them (defaults included), for `names`. */
export async function topicConfig(s: KafkaSettings, topic: string, names: readonly string[]): Promise<Record<string, string>> {
  const admin = client(s).admin();
  return wrapRead('reading topic config', s, async () => {
    await admin.connect();
    try {
      const { resources } = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: TOPIC_RESOURCE, name: topic, configNames: [...names] }] });
      return Object.fromEntries((resources[0]?.configEntries ?? []).map((e) => [e.configName, e.configValue]));
    } finally {
      await admin.disconnect();
    }
  });
}

/** Offsets a consumer group has committed per partition (missing: none committed yet). */
export async function committedOffsets(s: KafkaSettings, groupId: string, topic: string): Promise<Map<number, number>> {
  const admin = client(s).admin();
  return wrapRead('reading committed offsets', s, async () => {
    await admin.connect();
    try {
      const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
      return new Map((t?.partitions ?? []).filter((p) => Number(p.offset) >= 0).map((p) => [p.partition, Number(p.offset)]));
    } finally {
      await admin.disconnect();
    }
  });
}

/** End offsets per partition (the offset the next record will get). */
export async function endOffsets(s: KafkaSettings, topic: string): Promise<Map<number, number>> {
  const admin = client(s).admin();
  return wrapRead('reading end offsets', s, async () => {
    await admin.connect();
    try {
      return new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
    } finally {
      await admin.disconnect();
    }
  });
}

/** kafkajs's batch shape; an explicit `partition` is kept, otherwise keyed records go by murmur2 of the key (as the Java client does). */
function topicMessages(records: readonly OutRecord[]): { topic: string; messages: { key: string | null; value: string; partition?: number }[] }[] {
  const byTopic = new Map<string, { key: string | null; value: string; partition?: number }[]>();
  for (const r of records) {
    let list = byTopic.get(r.topic);
    if (!list) byTopic.set(r.topic, (list = []));
    list.push(r.partition === undefined ? { key: r.key, value: r.value } : { key: r.key, value: r.value, partition: r.partition });
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
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
    await wrap('producing', this.settings, () => this.producer.sendBatch({ acks: -1, topicMessages: topicMessages(records) }));
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
  /**
   * Called with each fetched batch, in order per partition. Return true when the batch was
   * processed; with `commit: 'after-batch'` (the default) its offsets are then committed.
   * Returning false leaves the offsets alone (the records will be fetched again).
   */
  onBatch: (batch: InBatch) => Promise<boolean | void> | boolean | void;
  /** 'after-batch': commit after each processed batch; 'none': the caller commits (in a transaction). */
  commit?: 'after-batch' | 'none';
  onAssignment?: (partitions: { topic: string; partition: number }[]) => void;
  /**
   * After every fetched batch, including ones holding only transaction markers (which `onBatch`
   * never sees): the next offset to read and the partition's high watermark, to tell "caught up".
   */
  onPosition?: (position: { topic: string; partition: number; next: number; highWatermark: number }) => void;
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
    // A killed member is noticed after the session timeout: keep it short (the broker minimum is 6 s).
    // CONCORD_KAFKA_MAX_BYTES_PER_PARTITION bounds a fetched batch (smaller: more, smaller transactions).
    const maxBytesPerPartition = Number(process.env.CONCORD_KAFKA_MAX_BYTES_PER_PARTITION ?? 1 << 20);
    const consumer = client(s).consumer({
      groupId: options.groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000, readUncommitted: false, maxBytesPerPartition,
      // A fetch waits at most this long for data. kafkajs heartbeats (and so notices a rebalance) and
      // leaves the group only between fetches: its 5 s default made every join, rebalance and stop ~5 s slower.
      maxWaitTimeInMs: 500,
    });
    const self = new BatchConsumer(s, consumer);
    await wrap('joining the consumer group', s, async () => {
      await consumer.connect();
      if (options.onAssignment) {
        consumer.on(consumer.events.GROUP_JOIN, (e) => {
          const assignment = e.payload.memberAssignment as Record<string, number[]>;
          options.onAssignment!(Object.entries(assignment).flatMap(([topic, parts]) => parts.map((partition) => ({ topic, partition }))));
        });
      }
      if (options.onPosition) {
        consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
          const p = e.payload as { topic: string; partition: number; lastOffset: string; highWatermark: string };
          options.onPosition!({ topic: p.topic, partition: p.partition, next: Number(p.lastOffset) + 1, highWatermark: Number(p.highWatermark) });
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
          const processed = await options.onBatch({ topic: batch.topic, partition: batch.partition, records, highWatermark: Number(batch.highWatermark) });
          if (processed === false) return;
          const last = batch.lastOffset();
          resolveOffset(last);
          if ((options.commit ?? 'after-batch') === 'after-batch') {
            await commitOffsetsIfNecessary({ topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: String(Number(last) + 1) }] }] });
          }
          await heartbeat();
        },
      });
    });
    return self;
  }

  /** Commits `offset` (the next one to read) for a partition, for callers using `commit: 'none'` without transactions. */
  async commit(topic: string, partition: number, offset: number): Promise<void> {
    await wrap('committing offsets', this.settings, () => this.consumer.commitOffsets([{ topic, partition, offset: String(offset) }]));
  }

  async stop(): Promise<void> {
    await wrap('leaving the consumer group', this.settings, () => this.consumer.disconnect());
  }
}

/** Offsets to commit for a consumer group: per partition, the next offset to read. */
export interface ConsumedOffsets {
  groupId: string;
  topic: string;
  partitions: { partition: number; offset: number }[];
}

/** An open transaction: what it sends and the offsets it commits become visible together on commit, never on abort. */
export class KafkaTransaction {
  private readonly settings: KafkaSettings;
  private readonly tx: Transaction;

  constructor(s: KafkaSettings, tx: Transaction) {
    this.settings = s;
    this.tx = tx;
  }

  async send(records: readonly OutRecord[]): Promise<void> {
    if (records.length === 0) return;
    await wrap('producing in a transaction', this.settings, () => this.tx.sendBatch({ acks: -1, topicMessages: topicMessages(records) }));
  }

  /** Commits the group's offsets with the transaction (Kafka's sendOffsetsToTransaction). */
  async sendOffsets(offsets: ConsumedOffsets): Promise<void> {
    if (offsets.partitions.length === 0) return;
    await wrap('adding offsets to a transaction', this.settings, () => this.tx.sendOffsets({
      consumerGroupId: offsets.groupId,
      topics: [{ topic: offsets.topic, partitions: offsets.partitions.map((p) => ({ partition: p.partition, offset: String(p.offset) })) }],
    }));
  }

  async commit(): Promise<void> {
    await wrap('committing a transaction', this.settings, () => this.tx.commit());
  }

  async abort(): Promise<void> {
    await wrap('aborting a transaction', this.settings, () => this.tx.abort());
  }
}

/**
 * A transactional producer: records and consumer offsets commit together or not at all
 * (consume-transform-produce, exactly once). A stable `transactionalId` fences a previous
 * incarnation on restart and aborts its open transaction at once.
 */
export class TransactionalProducer {
  private readonly producer: Producer;
  private readonly settings: KafkaSettings;

  private constructor(s: KafkaSettings, producer: Producer) {
    this.settings = s;
    this.producer = producer;
  }

  static async connect(s: KafkaSettings, transactionalId: string): Promise<TransactionalProducer> {
    const producer = client(s).producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: 15_000,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await wrap('connecting a transactional producer', s, () => producer.connect());
    return new TransactionalProducer(s, producer);
  }

  /** Starts a transaction: send, sendOffsets, then commit or abort. One open transaction per producer at a time. */
  async begin(): Promise<KafkaTransaction> {
    const tx = await wrap('starting a transaction', this.settings, () => this.producer.transaction());
    return new KafkaTransaction(this.settings, tx);
  }

  /** Sends `records` and commits `offsets` (next offset to read, per topic-partition) atomically. */
  async commit(records: readonly OutRecord[], offsets: ConsumedOffsets | null): Promise<void> {
    const tx = await this.begin();
    try {
      await tx.send(records);
      if (offsets) await tx.sendOffsets(offsets);
      await tx.commit();
    } catch (error) {
      await tx.abort().catch(() => undefined);
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
  }
}

/**
 * Reads a (compacted) topic from the beginning to its current end: the latest value per key.
 * Committed transactional records only. Used to load checkpoints and to read results.
 */
export async function readLatestByKey(s: KafkaSettings, topic: string): Promise<Map<string, string>> {
  const ends = await endOffsets(s, topic);
  const out = new Map<string, string>();
  const pending = new Set([...ends].filter(([, end]) => end > 0).map(([p]) => p));
  if (pending.size === 0) return out;
  const groupId = `concord-reader-${Math.random().toString(36).slice(2)}`;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const consumer = await BatchConsumer.start(s, {
    groupId,
    topics: [topic],
    onBatch: (b) => {
      for (const r of b.records) if (r.key !== null) out.set(r.key, r.value);
    },
    // Transaction markers take offsets too: positions (not records) say when everything is read.
    onPosition: (p) => {
      if (p.next >= (ends.get(p.partition) ?? 0)) pending.delete(p.partition);
      if (pending.size === 0) done();
    },
  });
  const timer = setTimeout(done, 30_000);
  await finished;
  clearTimeout(timer);
  await consumer.stop();
  const admin = client(s).admin();
  await admin.connect();
  await admin.deleteGroups([groupId]).catch(() => undefined);
  await admin.disconnect();
  if (pending.size > 0) throw new KafkaClientError(`reading ${topic} to its end timed out (partitions ${[...pending].join(', ')} incomplete)`);
  return out;
}
