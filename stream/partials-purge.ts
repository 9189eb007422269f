import { envNumber } from '../pipeline/env-number.ts';
import type { KafkaSettings } from './kafka/common.ts';
import { deleteRecordsBefore } from './kafka/admin.ts';

/** How often the merge stage purges what it merged (env CONCORD_PARTIALS_PURGE_INTERVAL_MS; 0: after every commit). */
export function partialsPurgeIntervalMs(): number {
  return envNumber('CONCORD_PARTIALS_PURGE_INTERVAL_MS', 30_000, { integer: true, unit: 'milliseconds' });
}

type Deleter = (s: KafkaSettings, topic: string, before: ReadonlyMap<number, number>) => Promise<void>;

/**
 * Deletes a partials topic's records the merge stage has committed past (its checkpoint and its group
 * offset say it never reads them again), as Kafka Streams purges its repartition topics. The topic is
 * not compacted and kept the broker's retention (7 days by default): a live group wrote ~4 MB a minute
 * to it at 800 clicks/s, ~40 GB held at steady state. A failed purge is said and tried again later.
 */
export class PartialsPurge {
  private readonly committed = new Map<number, number>();
  private last = Number.NEGATIVE_INFINITY;
  private running: Promise<void> | undefined;

  constructor(
    private readonly settings: KafkaSettings,
    private readonly topic: string,
    private readonly o: { intervalMs?: number; log?: (line: string) => void; deleter?: Deleter; now?: () => number } = {},
  ) {}

  /** A transaction committed this partition's merge up to `next` (its state and its offset). */
  committedTo(partition: number, next: number): void {
    if (next > (this.committed.get(partition) ?? 0)) this.committed.set(partition, next);
    const now = (this.o.now ?? Date.now)();
    if (this.running || now - this.last < (this.o.intervalMs ?? 30_000)) return;
    this.last = now;
    const before = new Map(this.committed);
    this.committed.clear();
    this.running = (this.o.deleter ?? deleteRecordsBefore)(this.settings, this.topic, before)
      .catch((error: unknown) => this.o.log?.(`merge: could not delete merged records of ${this.topic} (tried again later): ${error instanceof Error ? error.message : String(error)}`))
      .finally(() => { this.running = undefined; });
  }

  /** A partition no longer owned (or a refused transaction): what it last committed is another member's to purge. */
  forget(partition?: number): void {
    if (partition === undefined) this.committed.clear();
    else this.committed.delete(partition);
  }

  /** The purge in flight, if any. */
  async settled(): Promise<void> {
    await this.running;
  }
}
