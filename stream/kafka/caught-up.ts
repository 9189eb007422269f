import { endOffsets } from './admin.ts';
import type { KafkaSettings } from './common.ts';

/**
 * How a bounded run over Kafka (`--stop-when-idle D`) knows it is done (archiver, store sink): no record
 * for D, and every partition it reads fetched to the end of its topic. The stream worker checks the
 * batches it processed instead (InBatch.next, markers included): it drains its windows, and a fetch
 * position runs ahead of what it processed (fed them, two workers drained early).
 *
 * Ends are compared with fetch positions (the consumer's `onPosition`, transaction markers included),
 * not only with the last record's offset + 1: a transaction's commit marker takes an offset, so a topic
 * written by a transactional producer (Kafka Streams or Flink exactly-once, Concord's own outputs) ends
 * one offset past its last record. Checked on records alone, such a topic was never read to its end: the
 * archiver never stopped.
 */
export class CaughtUpWatch {
  private lastRecordAt = Date.now();
  /** `topic:partition` -> the next offset to read. */
  private readonly positions = new Map<string, number>();

  /** `quietMs`: the quiet time of `--stop-when-idle` (none: the run is unbounded). */
  constructor(private readonly settings: KafkaSettings, readonly quietMs?: number) {}

  /** Records arrived (a batch that holds any). */
  heard(now = Date.now()): void {
    this.lastRecordAt = now;
  }

  /** The next offset to read of a partition: a fetch position, or the offset after a record read. */
  position(topic: string, partition: number, next: number): void {
    const key = `${topic}:${partition}`;
    if (next > (this.positions.get(key) ?? -1)) this.positions.set(key, next);
  }

  /** At a join: positions of the membership that ended no longer hold (a partition may come back at an earlier offset). */
  forget(): void {
    this.positions.clear();
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
   * Every one of `partitions` fetched to the end of `topic`; by default every partition the topic has
   * (one never fetched counts from offset 0, so it must be empty).
   */
  async caughtUp(topic: string, partitions?: Iterable<number>): Promise<boolean> {
    const ends = await endOffsets(this.settings, topic);
    for (const p of partitions ?? ends.keys()) if ((this.positions.get(`${topic}:${p}`) ?? 0) < (ends.get(p) ?? 0)) return false;
    return true;
  }
}
