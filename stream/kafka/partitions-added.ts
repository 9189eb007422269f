import { envNumber } from '../../pipeline/env-number.ts';
import { ConcordError } from '../../pipeline/errors.ts';
import { topicPartitions } from './admin.ts';
import type { KafkaSettings } from './common.ts';

/** How often a member asks for its input topic's partition count (env CONCORD_KAFKA_PARTITION_CHECK_MS). */
function checkEveryMs(): number {
  return envNumber('CONCORD_KAFKA_PARTITION_CHECK_MS', 30_000, { min: 1, unit: 'milliseconds' });
}

/** The input topic has more partitions than when the process started (`kafka-topics --alter --partitions`). */
export class PartitionsAddedError extends ConcordError {
  constructor(readonly topic: string, readonly before: number, readonly now: number, whatToDo: string) {
    super(`topic ${topic} has ${now} partitions now, ${before} when this process started (partitions were added): ${whatToDo}`, { domain: 'user' });
  }
}

/**
 * Partitions added to a topic while a group reads it are read by no member: the Kafka client does not
 * watch the topic's metadata for them (Java's group leader does, and rejoins), so their records waited
 * unread, unseen in the lag metrics (which cover assigned partitions), until some member happened to
 * rejoin. The merge stage and the watermark reports also count the partitions as they were at start.
 * So a member checks now and then and stops, saying so: a restart reads every partition.
 */
export class PartitionsAddedWatch {
  private checkedAt = Date.now();
  private readonly everyMs = checkEveryMs();

  constructor(private readonly settings: KafkaSettings, private readonly topic: string, private readonly startedWith: number) {}

  /** Throws PartitionsAddedError (with `whatToDo`) once the topic has more partitions than at start. */
  async check(whatToDo: string, now = Date.now()): Promise<void> {
    if (this.startedWith === 0 || now - this.checkedAt < this.everyMs) return;
    this.checkedAt = now;
    const count = await topicPartitions(this.settings, this.topic);
    if (count > this.startedWith) throw new PartitionsAddedError(this.topic, this.startedWith, count, whatToDo);
  }
}
