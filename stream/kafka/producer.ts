import { createHash } from 'node:crypto';
/** Producing: plain idempotent batches, and transactions that commit records with consumer offsets. */
import { findErrorBy, kGetApi, kGetConnection, kMetadata, kPerformWithRetry, ProduceAcks, Producer, stringSerializers, type MessageToProduce } from '@platformatic/kafka';
import { keyHash } from './murmur2.ts';
import { baseOptions, fencedBy, MEMBER_KNOWN, GroupFencedError, KafkaClientError, ProducerFencedError, producerFencedBy, wrap, type ConsumedOffsets, type KafkaSettings, type OutRecord } from './common.ts';

type StringProducer = Producer<string, string, string, string>;

/**
 * The library's message shape. An explicit `partition` is kept; a keyed record goes where Java's default
 * partitioner puts it (toPositive(murmur2(key)), reduced modulo the partition count by the library);
 * a record without key goes round-robin.
 */
/** Longer keys are sent as their SHA-256 (still one key per value: partitioning and compaction unchanged in effect). */
export const MAX_KEY_CHARS = 1_024;

/**
 * A record key as sent. Measured: the client spins (the event loop blocked, no error) on a record whose
 * key is a few hundred KB, e.g. a result keyed by a 400 KB url; values of MBs are fine.
 */
export function wireKey(key: string): string {
  return key.length <= MAX_KEY_CHARS ? key : `sha256:${createHash('sha256').update(key).digest('hex')}`;
}

function messages(records: readonly OutRecord[]): MessageToProduce<string, string, string, string>[] {
  return records.map((r) => {
    const key = r.key === null ? null : wireKey(r.key);
    const partition = r.partition ?? (key === null ? undefined : keyHash(key));
    // A null value is a tombstone: the compacted topic forgets the key.
    return { topic: r.topic, ...(r.value === null ? {} : { value: r.value }), ...(key === null ? {} : { key }), ...(partition === undefined ? {} : { partition }) } as MessageToProduce<string, string, string, string>;
  });
}

/**
 * Bytes of keys and values per produce request. The broker refuses a partition's record batch over its
 * `max.message.bytes` (1 MiB by default) with MESSAGE_TOO_LARGE, and the library puts every record of a
 * request for one partition into one batch: a transaction of 50k hostile records sent its dead letters
 * in one 1+ MiB batch and the worker failed. Requests of at most this many bytes keep every batch under it.
 */
const MAX_REQUEST_BYTES = 768 * 1024;
/** A record's framing in a batch (varint lengths, offset and timestamp deltas, attributes), at most. */
const RECORD_OVERHEAD_BYTES = 32;

/** `records` in order, cut into requests of at most MAX_REQUEST_BYTES (a larger record goes alone). */
export function produceRequests(records: readonly OutRecord[]): OutRecord[][] {
  const out: OutRecord[][] = [];
  let current: OutRecord[] = [];
  let bytes = 0;
  for (const r of records) {
    const size = RECORD_OVERHEAD_BYTES + (r.value === null ? 0 : Buffer.byteLength(r.value)) + (r.key === null ? 0 : Math.min(Buffer.byteLength(r.key), MAX_KEY_CHARS * 3));
    if (current.length > 0 && bytes + size > MAX_REQUEST_BYTES) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(r);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

function producer(s: KafkaSettings, transactionalId?: string): StringProducer {
  return new Producer({
    ...baseOptions(s), serializers: stringSerializers, idempotent: true, acks: ProduceAcks.ALL,
    // A transaction started right after the previous commit meets CONCURRENT_TRANSACTIONS until the
    // broker has written the commit markers (milliseconds): retried every 20 ms, not every 100 ms.
    ...(transactionalId ? { transactionalId, retries: 50, retryDelay: 20 } : {}),
  });
}

/** Idempotent producer (acks = all) sending batches; keyed records go to partition by murmur2 of the key. */
export class BatchProducer {
  private constructor(private readonly settings: KafkaSettings, private readonly producer: StringProducer) {}

  static async connect(s: KafkaSettings): Promise<BatchProducer> {
    const p = producer(s);
    // The library connects lazily: ask for the cluster now, so a broker that is down fails here.
    await wrap('connecting a producer', s, () => p.metadata({ topics: [] }));
    return new BatchProducer(s, p);
  }

  async send(records: readonly OutRecord[]): Promise<void> {
    for (const part of produceRequests(records)) await wrap('producing', this.settings, () => this.producer.send({ messages: messages(part) }));
  }

  async close(): Promise<void> {
    await this.producer.close();
  }
}

type LibraryTransaction = Awaited<ReturnType<StringProducer['beginTransaction']>>;

type Callback<T> = (error: Error | null, result?: T) => void;
/** The producer's own plumbing the library's `addOffset` uses (exported by the library under these symbols). */
interface ProducerInternals {
  [kPerformWithRetry]: (operationId: string, operation: (retry: Callback<void>) => void, callback: Callback<void>) => void;
  [kMetadata]: (options: { topics: string[] }, callback: Callback<{ brokers: Map<number, unknown>; topics: Map<string, { partitions: { leaderEpoch: number }[] }> }>) => void;
  [kGetConnection]: (broker: unknown, callback: Callback<unknown>) => void;
  [kGetApi]: (name: string, callback: Callback<(...args: unknown[]) => void>) => void;
}

/**
 * One TxnOffsetCommit for every partition of a transaction, as the library's `addOffset` sends it for
 * one (same connection, API version, retries; generation and member id of KIP-447). `addOffset` takes
 * one partition per request and must be called one at a time (concurrent calls are merged into the
 * first by its request deduplication): up to a round trip per partition per transaction.
 */
function txnOffsetCommit(producer: StringProducer, transactionalId: string, o: ConsumedOffsets): Promise<void> {
  const p = producer as unknown as ProducerInternals;
  const g = o.generation;
  return new Promise((resolve, reject) => {
    p[kPerformWithRetry]('commit', (retry) => {
      p[kMetadata]({ topics: [o.topic] }, (error, metadata) => {
        if (error || !metadata) return retry(error ?? new KafkaClientError('no metadata'));
        p[kGetConnection](metadata.brokers.get(g.coordinatorId), (error, connection) => {
          if (error) return retry(error);
          p[kGetApi]('TxnOffsetCommit', (error, api) => {
            if (error || !api) return retry(error ?? new KafkaClientError('no TxnOffsetCommit API'));
            const leaders = metadata.topics.get(o.topic)?.partitions ?? [];
            const partitions = o.partitions.map((x) => ({
              partitionIndex: x.partition, committedOffset: BigInt(x.offset), committedLeaderEpoch: leaders[x.partition]?.leaderEpoch ?? -1, committedMetadata: null,
            }));
            api(connection, transactionalId, g.groupId, producer.producerId, producer.producerEpoch, g.generationId, g.memberId, null, [{ name: o.topic, partitions }],
              (error: Error | null) => retry(error));
          });
        });
      });
    }, (error) => (error ? reject(error) : resolve()));
  });
}

/** An open transaction: what it sends and the offsets it commits become visible together on commit, never on abort. */
export class KafkaTransaction {
  private readonly groups = new Set<string>();

  constructor(private readonly settings: KafkaSettings, private readonly tx: LibraryTransaction, private readonly producer: StringProducer) {}

  async send(records: readonly OutRecord[]): Promise<void> {
    for (const part of produceRequests(records)) await wrap('producing in a transaction', this.settings, () => this.tx.send({ messages: messages(part) }));
  }

  /**
   * Commits the group's offsets with the transaction (Kafka's sendOffsetsToTransaction with the
   * consumer's group metadata, KIP-447): TxnOffsetCommit v4 carries the generation and member id the
   * records were read under, and the broker refuses it (GroupFencedError) when the group has since
   * moved on. One request for all partitions (txnOffsetCommit).
   */
  async sendOffsets(offsets: ConsumedOffsets): Promise<void> {
    const g = offsets.generation;
    try {
      if (!this.groups.has(g.groupId)) {
        // The library reads only the group id of the consumer it is given here.
        await this.tx.addConsumer({ groupId: g.groupId } as Parameters<LibraryTransaction['addConsumer']>[0]);
        this.groups.add(g.groupId);
      }
      await txnOffsetCommit(this.producer, this.tx.id, offsets);
    } catch (error) {
      const refusal = fencedBy(error);
      if (refusal) {
        throw new GroupFencedError(`the broker refused the offsets of ${offsets.topic} for group ${g.groupId} (generation ${g.generationId}, member ${g.memberId}): ${refusal}; another member owns those partitions now`, error, { memberKnown: MEMBER_KNOWN.has(refusal), generationId: g.generationId });
      }
      return wrap('adding offsets to a transaction', this.settings, () => Promise.reject(error));
    }
  }

  async commit(): Promise<void> {
    await wrap('committing a transaction', this.settings, () => this.tx.commit());
  }

  async abort(): Promise<void> {
    await wrap('aborting a transaction', this.settings, () => this.tx.abort());
  }

  /** Forgets a transaction to which nothing was added (nothing to abort on the broker). */
  async cancel(): Promise<void> {
    await this.tx.cancel();
  }
}

/**
 * A transactional producer: records and consumer offsets commit together or not at all
 * (consume-transform-produce, exactly once). A stable `transactionalId` fences a previous
 * incarnation on restart and aborts its open transaction at once; the group generation in every
 * offset commit fences a stalled member whose partitions went to another one.
 */
export class TransactionalProducer {
  private constructor(private readonly settings: KafkaSettings, private readonly transactionalId: string, private producer: StringProducer) {}

  static async connect(s: KafkaSettings, transactionalId: string): Promise<TransactionalProducer> {
    const self = new TransactionalProducer(s, transactionalId, producer(s, transactionalId));
    // The first transaction registers the transactional id (InitProducerId): that fences a previous
    // incarnation and aborts its open transaction. Done here, so a restart fences at once.
    const tx = await self.begin();
    await tx.cancel();
    return self;
  }

  /**
   * Starts a transaction: send, sendOffsets, then commit or abort. One open transaction per producer at
   * a time. While the broker is still aborting a killed predecessor's transaction it answers
   * CONCURRENT_TRANSACTIONS for a while: retried for up to 30 s.
   */
  async begin(): Promise<KafkaTransaction> {
    const started = Date.now();
    for (let delay = 100; ; delay = Math.min(delay * 2, 1_000)) {
      try {
        // -1/-1: "no expected producer" in InitProducerId. The library's default (0/0) asks the broker to
        // bump producer 0, which it refuses (PRODUCER_FENCED) for a transactional id used before: a restart.
        return new KafkaTransaction(this.settings, await this.producer.beginTransaction({ producerId: -1n, producerEpoch: -1 }), this.producer);
      } catch (error) {
        // A failed start leaves the library's transaction in place: drop it, or every later start fails.
        await this.producer.transaction?.cancel().catch(() => undefined);
        const retriable = error instanceof Error && findErrorBy(error, 'canRetry', true) !== null;
        if (!retriable || Date.now() - started > 30_000) return wrap('starting a transaction', this.settings, () => Promise.reject(error));
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** Sends `records` and commits `offsets` (next offset to read, per topic-partition) atomically. */
  async commit(records: readonly OutRecord[], offsets: ConsumedOffsets | null): Promise<void> {
    const tx = await this.begin();
    try {
      await tx.send(records);
      if (offsets) await tx.sendOffsets(offsets);
      await tx.commit();
    } catch (error) {
      const fencedAs = producerFencedBy(error);
      if (fencedAs) {
        // The broker already aborted the transaction and will refuse this producer from now on: a fresh
        // one re-registers the transactional id (InitProducerId, a new epoch) before the next transaction.
        const old = this.producer;
        this.producer = producer(this.settings, this.transactionalId);
        await old.close().catch(() => undefined);
        throw new ProducerFencedError(`the broker fenced transactional id ${this.transactionalId} (${fencedAs}) and aborted its transaction: it was open past the transaction timeout (this process stalled) or another process uses the same worker id`, error);
      }
      // Not aborted: the broker still holds the transaction open, and this producer must not start
      // another in it (the caller fails; a restart fences it and the broker aborts it).
      await tx.abort().catch((abortError: unknown) => {
        throw new KafkaClientError(`a failed transaction could not be aborted (${error instanceof Error ? error.message : String(error)})`, abortError);
      });
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.producer.close();
  }
}
