import { endOffsets } from './admin.ts';
import type { KafkaSettings } from './common.ts';

/**
 * "Caught up and quiet", the one check every Kafka reader uses to end a bounded run (`--stop-when-idle D`,
 * the merge stage's `stopWhenCaughtUp`) and to tell a stalled consumer: no record for D, and every
 * partition it reads read to the end of its topic.
 *
 * Its owner says what "read" means by the positions it feeds: the archiver and the store sink feed fetch
 * positions (the consumer's `onPosition`: what they fetched is theirs to write); the stream worker and
 * the merge stage feed the batches they processed (InBatch.next with ConsumeOptions.markerBatches),
 * because their fetch position runs ahead of what they processed (fed it, two workers drained early).
 *
 * Either way a position counts transaction markers, not only the last record's offset + 1: a
 * transaction's commit marker takes an offset, so a topic written by a transactional producer (Kafka
 * Streams or Flink exactly-once, Concord's own outputs) ends one offset past its last record. Checked on
 * records alone, such a topic was never read to its end: the archiver never stopped.
 */
export class CaughtUpWatch {
  private lastRecordAt = Date.now();
  /** `topic:partition` -> the next offset to read. */
  private readonly positions = new Map<string, number>();

  /** `quietMs`: the quiet time of `--stop-when-idle` (none: the run is unbounded). */
  constructor(private readonly settings: KafkaSettings, readonly quietMs?: number) {}

  /** Records arrived (a batch that holds any); also restarts the quiet time after a consumer is replaced. */
  heard(now = Date.now()): void {
    this.lastRecordAt = now;
  }

  /** The next offset to read of a partition: a fetch position, or the offset after what was processed. Never moves back (see `forget`). */
  position(topic: string, partition: number, next: number): void {
    const key = `${topic}:${partition}`;
    if (next > (this.positions.get(key) ?? -1)) this.positions.set(key, next);
  }

  /** The position of a partition (undefined: none since it was last forgotten). */
  next(topic: string, partition: number): number | undefined {
    return this.positions.get(`${topic}:${partition}`);
  }

  /**
   * A partition handed away, or a membership that ended (no arguments: every partition): its position no
   * longer holds, it may come back at an earlier offset.
   */
  forget(topic?: string, partition?: number): void {
    if (topic === undefined || partition === undefined) this.positions.clear();
    else this.positions.delete(`${topic}:${partition}`);
  }

  /** Milliseconds since the last record (or since the watch started). */
  silentMs(now = Date.now()): number {
    return now - this.lastRecordAt;
  }

  /** No record for the quiet time (never true without one). */
  quiet(now = Date.now()): boolean {
    return this.quietMs !== undefined && this.silentMs(now) >= this.quietMs;
  }

  /**
   * Every one of `partitions` read to the end of `topic`; by default every partition the topic has
   * (one never read counts from offset 0, so it must be empty).
   */
  async caughtUp(topic: string, partitions?: Iterable<number>): Promise<boolean> {
    const ends = await endOffsets(this.settings, topic);
    for (const p of partitions ?? ends.keys()) if ((this.next(topic, p) ?? 0) < (ends.get(p) ?? 0)) return false;
    return true;
  }
}
