/** A compacted topic followed by one open consumer: the latest value per key, read incrementally. */
import { deleteGroups, endOffsets } from './admin.ts';
import { BatchConsumer } from './consumer.ts';
import { KafkaClientError, type InRecord, type KafkaSettings } from './common.ts';
import { TOMBSTONE } from './fetched-records.ts';

/** How long `current` waits for the consumer to reach the ends it took. */
const CATCH_UP_MS = 30_000;

/**
 * One record into the latest value per key: a tombstone removes its key; a record that cannot be read
 * (not UTF-8, empty) fails the read: taken as absent, a checkpoint's state would be silently dropped.
 */
export function applyLatest(out: Map<string, string>, topic: string, r: InRecord): void {
  if (r.key === null) return;
  if (r.problem?.reason === TOMBSTONE) out.delete(r.key);
  else if (r.problem) throw new KafkaClientError(`${topic} offset ${r.offset} (key ${r.key}) cannot be read: ${r.problem.reason}`, undefined, { retriable: false });
  else out.set(r.key, r.value);
}

/**
 * A compacted topic read from its beginning and then followed, by one consumer kept open: each
 * `current()` answers what the topic holds now from the records it had not read yet, where
 * `readLatestByKey` joins a group and reads the whole topic again. For a reader that asks every tick
 * (a bounded worker waiting for its group's drain reports: stream/group-drain.ts).
 */
export class FollowedTopic {
  private readonly latest = new Map<string, string>();
  /** Per partition, the next offset to read (transaction markers included). */
  private readonly positions = new Map<number, number>();
  private consumer: BatchConsumer | undefined;
  private failure: unknown;
  /** What it read: one consumer (`opened`) for the whole wait, each record once. */
  readonly stats = { opened: 0, records: 0 };

  private constructor(private readonly s: KafkaSettings, readonly topic: string, private readonly groupId: string) {}

  static async open(s: KafkaSettings, topic: string): Promise<FollowedTopic> {
    const followed = new FollowedTopic(s, topic, `concord-reader-${Math.random().toString(36).slice(2)}`);
    followed.consumer = await BatchConsumer.start(s, {
      groupId: followed.groupId,
      topics: [topic],
      commit: 'none',
      maxRecordBytes: Number.POSITIVE_INFINITY,
      onBatch: (b) => followed.read(b.records),
      onPosition: (p) => { if (p.next > (followed.positions.get(p.partition) ?? -1)) followed.positions.set(p.partition, p.next); },
      onError: (error) => { followed.failure = error; },
    });
    followed.stats.opened++;
    return followed;
  }

  private read(records: readonly InRecord[]): void {
    try {
      for (const r of records) applyLatest(this.latest, this.topic, r);
      this.stats.records += records.length;
    } catch (error) {
      this.failure ??= error;
    }
  }

  /** The latest value per key of everything the topic held when called (read to the ends taken now). */
  async current(): Promise<ReadonlyMap<string, string>> {
    const ends = await endOffsets(this.s, this.topic);
    const behind = () => [...ends].filter(([p, end]) => end > 0 && (this.positions.get(p) ?? 0) < end).map(([p]) => p);
    for (const started = Date.now(); behind().length > 0; await new Promise((r) => setTimeout(r, 20))) {
      if (this.failure) throw this.failure;
      if (Date.now() - started > CATCH_UP_MS) throw new KafkaClientError(`following ${this.topic} to its end timed out (partitions ${behind().join(', ')} behind)`);
    }
    if (this.failure) throw this.failure;
    return this.latest;
  }

  async close(): Promise<void> {
    const consumer = this.consumer;
    this.consumer = undefined;
    if (!consumer) return;
    await consumer.stop().catch(() => undefined);
    await deleteGroups(this.s, [this.groupId]);
  }
}
