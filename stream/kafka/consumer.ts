/** Consumer-group members delivering whole batches (their options: consume-options.ts; what they deliver: delivered-batches.ts). */
import { Base, Consumer, FetchIsolationLevels, stringDeserializers, type GroupAssignment, type Message, type MessagesStream } from '@platformatic/kafka';
import { maxLineBytes } from '../../sources/line-limits.ts';
import { installReadCommittedFilter } from './read-committed.ts';
import { FetchPause, type PausableConsumer } from './fetch-pause.ts';
import { FetchPositionGuard, type GuardedConsumer } from './fetch-positions.ts';
import { FetchMetadataGuard, type MetadataConsumer } from './fetch-metadata-guard.ts';
import { BatchDelivery, partitionKey, splitBatches, takenOfMessages } from './delivered-batches.ts';
import { sessionTimeoutMs, type ConsumeOptions } from './consume-options.ts';
import { ReadAhead, type TakingConsumer } from './read-ahead.ts';
import { baseOptions, KafkaClientError, settingsRefusedFailure, wrap, type GroupGeneration, type KafkaSettings } from './common.ts';
import { envNumber } from '../../pipeline/env-number.ts';

// Values stay bytes until judged (sources/line-limits.ts): a string deserializer would turn bytes that
// are not UTF-8 into U+FFFD and a tombstone into nothing.
type StringConsumer = Consumer<string, Buffer, string, string>;
type StringMessage = Message<string, Buffer, string, string>;
const deserializers = { ...stringDeserializers, value: (data?: Buffer): Buffer | undefined => data };

/** How long `stop` waits for the group to acknowledge the member leaving. */
const LEAVE_TIMEOUT_MS = 10_000;

/**
 * A consumer-group member (classic group protocol: under KIP-848 the library sends generation 0 in
 * offset commits, which would disable fencing) processing whole batches, one at a time.
 */
export class BatchConsumer {
  private generation: GroupGeneration | undefined;
  /** The current assignment and how far each partition was delivered in it (delivered-batches.ts). */
  private readonly delivery: BatchDelivery;
  private pumping = false;
  private stopped = false;
  /** Records taken from fetch responses (read-ahead.ts), not yet delivered. */
  private readonly readAhead: ReadAhead;
  private stream: MessagesStream<string, Buffer, string, string> | undefined;
  /** Topic ids (in fetch responses) to names. */
  private readonly topicNames = new Map<string, string>();
  private failure: unknown;
  private readonly lineLimit: number;
  /** Partitions left out of fetches (watermark alignment), and the ends the broker reported. */
  private readonly pauses: FetchPause;

  private constructor(
    private readonly settings: KafkaSettings,
    private readonly consumer: StringConsumer,
    private readonly options: ConsumeOptions,
    private readonly guard: FetchPositionGuard,
  ) {
    this.lineLimit = options.maxRecordBytes ?? maxLineBytes();
    this.delivery = new BatchDelivery(options.markerBatches === true);
    // Wraps the fetch after the guard (constructed before this), inside FetchPause (below).
    this.readAhead = new ReadAhead(consumer as unknown as TakingConsumer, {
      generation: () => this.generation,
      stopped: () => this.stopped,
      topicName: (id) => this.topicNames.get(id),
      lineLimit: this.lineLimit,
      arrived: () => void this.pump(this.stream!),
    });
    // Outermost: the record taking and the library's fetch session both see the request without paused partitions.
    this.pauses = new FetchPause(consumer as unknown as PausableConsumer, (id) => this.topicNames.get(id));
  }

  static async start(s: KafkaSettings, options: ConsumeOptions): Promise<BatchConsumer> {
    installReadCommittedFilter();
    // CONCORD_KAFKA_MAX_BYTES_PER_PARTITION bounds a fetched batch (smaller: more, smaller transactions).
    const maxBytesPerPartition = envNumber('CONCORD_KAFKA_MAX_BYTES_PER_PARTITION', 1 << 20, { integer: true, min: 1, unit: 'bytes' });
    const session = sessionTimeoutMs();
    let self: BatchConsumer | undefined;
    const consumer: StringConsumer = new Consumer({
      // More patience than the other clients: after a stall the group coordinator may take a while to rejoin.
      ...baseOptions(s), retries: 30, retryDelay: (_client: unknown, operation: string, _attempt: number, _retries: number, error: unknown) => {
        // The library retries a refused password or certificate as an outage: nested (a fetch's metadata,
        // a heartbeat's coordinator), 30 x 30 tries. After a reconnect with a password rotated on the
        // broker an idle sink sat ~15 minutes reconnecting in silence. Refused settings end it (exit 2); a
        // handshake cut short (a broker restarting) is retried.
        if (error instanceof Error && settingsRefusedFailure(s, error)) setImmediate(() => self?.failed(operation, error));
        return 200;
      }, groupId: options.groupId, groupProtocol: 'classic',
      ...(options.instanceId ? { groupInstanceId: options.instanceId } : {}),
      sessionTimeout: session, rebalanceTimeout: Math.max(session, 30_000), heartbeatInterval: Math.min(1_000, Math.floor(session / 3)),
      // A fetch waits at most this long for data.
      maxWaitTime: 500, maxBytesPerPartition, maxBytes: maxBytesPerPartition * 8,
      isolationLevel: FetchIsolationLevels.READ_COMMITTED, deserializers, autocommit: false,
    });
    // Registered before the stream exists, so its join handler runs before the stream's (fetch-positions.ts).
    const guard = new FetchPositionGuard(consumer as unknown as GuardedConsumer);
    // Its read-ahead takes the records of what the guard lets through (read-ahead.ts).
    self = new BatchConsumer(s, consumer, options, guard);
    // A stream outliving its consumer's topic list fails its fetch instead of throwing (fetch-metadata-guard.ts).
    const metadataGuard = new FetchMetadataGuard(consumer as unknown as MetadataConsumer, options.topics);
    consumer.on('consumer:group:join', (e: { groupId: string; memberId: string; generationId: number; assignments: GroupAssignment[] | null }) => {
      guard.joined();
      // Records taken but not delivered belong to the old membership (as the guard's discarded ones).
      guard.stats.discardedRecords += self.readAhead.size;
      self.readAhead.drop();
      const previous = self.generation;
      self.generation = { groupId: e.groupId, memberId: e.memberId, generationId: e.generationId, coordinatorId: consumer.coordinatorId ?? -1 };
      const continued = previous !== undefined && previous.memberId === e.memberId && previous.generationId + 1 === e.generationId;
      const topics = new Set(options.topics);
      const assigned = (e.assignments ?? []).filter((a) => topics.has(a.topic)).flatMap((a) => a.partitions.map((partition) => ({ topic: a.topic, partition })));
      self.delivery.joined(assigned);
      options.onAssignment?.(assigned, self.generation, continued);
    });
    // Topic ids before the first fetch: a topic's records then always take one path (a topic unknown
    // here, or when this fails, goes the library's way: as messages through its stream).
    await consumer.metadata({ topics: options.topics }).then((m) => {
      for (const [name, t] of m.topics) if (t.id) self.topicNames.set(t.id, name);
    }, () => undefined);
    const stream = await wrap('joining the consumer group', s, () => consumer.consume({
      topics: options.topics, mode: 'committed', fallbackMode: (options.fromBeginning ?? true) ? 'earliest' : 'latest', autocommit: false,
      highWaterMark: 20_000,
    }));
    guard.attach(stream);
    metadataGuard.arm();
    self.stream = stream;
    stream.on('readable', () => void self.pump(stream));
    // A fetch holding only transaction markers delivers nothing but moves the position.
    stream.on('fetch', () => setImmediate(() => { if (!self.pumping && self.readAhead.size === 0 && stream.readableLength === 0) self.reportPositions(stream); }));
    stream.on('error', (error: Error) => self.failed('consuming', error));
    consumer.on('error', (error: Error) => self.failed('the consumer group membership', error));
    return self;
  }

  /** Drains what was fetched, in batches per partition, one batch at a time. */
  private async pump(stream: MessagesStream<string, Buffer, string, string>): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        if (this.stopped) return;
        const fetched: StringMessage[] = [];
        for (let m: StringMessage | null; (m = stream.read() as StringMessage | null) !== null;) fetched.push(m);
        const taken = this.readAhead.takeAll();
        if (fetched.length === 0 && taken.length === 0) break;
        const all = fetched.length > 0 ? [...takenOfMessages(fetched, this.generation, this.lineLimit), ...taken] : taken;
        const batches = splitBatches(this.delivery.batchesOfTaken(all, this.generation), this.options.maxBatchRecords);
        this.readAhead.release();
        for (const [i, batch] of batches.entries()) {
          if (this.stopped) return;
          batch.more = i < batches.length - 1;
          const processed = await this.options.onBatch(batch);
          // A round can hold CONCORD_KAFKA_PREFETCH_RECORDS records; a batch that needs no I/O resolves in
          // microtasks, so without a turn of the event loop between batches the heartbeats wait for the whole
          // round (and, without maxBatchRecords, for a whole partition's share of it).
          if (batch.more) await new Promise<void>((resolve) => setImmediate(resolve));
          if (processed === false || (this.options.commit ?? 'after-batch') !== 'after-batch' || batch.records.length === 0) continue;
          await this.commit(batch.topic, batch.partition, batch.records.at(-1)!.offset + 1).catch((error: unknown) => { this.failure = error; });
        }
        if (stream.readableLength === 0 && this.readAhead.size === 0) this.reportPositions(stream);
      }
    } finally {
      this.pumping = false;
    }
  }

  private reportPositions(stream: MessagesStream<string, Buffer, string, string>): void {
    const report = this.options.onPosition;
    if (!report || !this.generation) return;
    for (const a of this.consumer.assignments ?? []) {
      for (const partition of a.partitions) {
        const next = stream.offsetsToFetch.get(partitionKey(a.topic, partition));
        if (next !== undefined && next >= 0n) report({ topic: a.topic, partition, next: Number(next) });
      }
    }
  }

  private failed(what: string, error: Error): void {
    if (this.stopped || this.failure) return;
    const failure = settingsRefusedFailure(this.settings, error) ?? new KafkaClientError(`${what} failed against ${this.settings.brokers.join(',')}: ${error.message}`, error);
    this.failure = failure;
    this.options.onError?.(failure);
  }

  /** From the next fetch on, `partitions` of `topic` are not fetched (the others are); records fetched already still come. */
  pause(topic: string, partitions: Iterable<number>): void {
    this.pauses.pause(topic, partitions);
  }

  /** The last stable offset the broker reported for a partition (the end of what read_committed reads), if any. */
  end(topic: string, partition: number): number | undefined {
    return this.pauses.end(topic, partition);
  }

  /** The membership the consumer holds now (undefined before the first assignment). */
  currentGeneration(): GroupGeneration | undefined {
    return this.generation;
  }

  /** Commits `offset` (the next one to read) for a partition, for callers using `commit: 'none'` without transactions. */
  async commit(topic: string, partition: number, offset: number): Promise<void> {
    await wrap('committing offsets', this.settings, () => this.consumer.commit({ offsets: [{ topic, partition, offset: BigInt(offset), leaderEpoch: -1 }] }));
  }

  /** A stream error so far (the consumer stopped delivering), if any. */
  error(): unknown {
    return this.failure;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.readAhead.release(true);
    let timer: NodeJS.Timeout | undefined;
    try {
      // Leaving can also hang (seen after a refused commit and a rejoin): the session timeout removes the member anyway.
      const stuck = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${LEAVE_TIMEOUT_MS} ms`)), LEAVE_TIMEOUT_MS); });
      // The stream first: close(true) closes it only for a member that still has a member id, and a
      // stream left fetching after the consumer cleared its topics crashed the process (fetch-metadata-guard.ts).
      await Promise.race([Promise.all([this.stream?.close(), this.consumer.close(true)]), stuck]);
    } catch (error) {
      // The library keeps a consumer open when its LeaveGroup is refused (a member the group fenced or
      // replaced): it would go on heartbeating and rejoin as a zombie, and keep the process alive. The
      // streams are closed and heartbeats cancelled by then; closing the connections ends the rest.
      await Base.prototype.close.call(this.consumer).catch(() => undefined);
      throw new KafkaClientError(`leaving the consumer group ${this.options.groupId} failed (connections closed): ${error instanceof Error ? error.message : String(error)}`, error);
    } finally {
      clearTimeout(timer);
    }
  }
}

