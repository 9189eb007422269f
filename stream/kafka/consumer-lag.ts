import type { ProcessMetrics } from '../../serve/process-metrics.ts';
import { endOffsets, type KafkaSettings } from './client.ts';

/**
 * Reports, before each scrape, the records of each partition this member owns that it has not read yet
 * (end offset - its fetch position), as `concord_consumer_lag_records{topic, partition}`; partitions
 * handed away are dropped (their lag is their new owner's to report). For the consumers whose own
 * position is all there is to it (`sink`, `archive --from-kafka`); the stream worker reports its own.
 */
export class ConsumerLagReport {
  private reported = new Map<string, number[]>();
  private running = true;

  constructor(
    private readonly metrics: ProcessMetrics,
    private readonly settings: KafkaSettings,
    /** The partitions of each topic the group assigned this member. */
    private readonly owned: () => ReadonlyMap<string, readonly number[]>,
    /** The member's next offset to read of a partition; undefined before its first fetch (not reported yet). */
    private readonly next: (topic: string, partition: number) => number | undefined,
  ) {
    metrics.beforeScrape(() => this.report());
  }

  /** After a stop: the last values stay, no broker is asked. */
  stop(): void {
    this.running = false;
  }

  private async report(): Promise<void> {
    if (!this.running) return;
    const owned = this.owned();
    for (const [topic, partitions] of this.reported) {
      for (const p of partitions) if (!owned.get(topic)?.includes(p)) this.metrics.partitionGone(topic, [], p);
    }
    const reported = new Map<string, number[]>();
    for (const [topic, partitions] of owned) {
      const ends = await endOffsets(this.settings, topic);
      for (const p of partitions) {
        const next = this.next(topic, p);
        if (next === undefined) continue;
        this.metrics.consumerLag(topic, p, Math.max(0, (ends.get(p) ?? 0) - next));
        reported.set(topic, [...(reported.get(topic) ?? []), p]);
      }
    }
    this.reported = reported;
  }
}
