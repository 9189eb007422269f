import type { SqlResultStore } from './sql-store.ts';

/** How often a running sink records its consumer's positions (and once at a clean stop). */
const POSITIONS_EVERY_MS = 10_000;

/** Where the consumer is: the partitions this member owns, and the next offset it reads of each (CaughtUpWatch). */
export interface ConsumerPositions {
  owned(topic: string): readonly number[];
  next(topic: string, partition: number): number | undefined;
  /** Commits the group's offset of a partition this member owns (best effort: a partition handed away refuses it). */
  commit?(topic: string, partition: number, next: number): Promise<void>;
}

/**
 * A write records the offset after its last record (sink-offsets.ts); the transaction markers and aborted
 * records after it are passed by the consumer but reach no write's offsets. A partition that goes quiet
 * then stays a few offsets behind its end in the store, and once retention empties it to its end the next
 * start took those offsets for lost records (two or more: refused, exit 2). So the consumer's position is
 * recorded too, now and then and at a clean stop, when every record below it is written: the consumer
 * reports a position only after the batches it fetched are processed. A batch not written (the store
 * did not answer when the sink stopped, or its write failed) ends that: the position would pass it. And
 * a position only moves the store's offset on from this sink's own last one (its start's, or its last
 * write's): a store restored under a running sink keeps the older offset it resumes from.
 * The group's offset goes there too: it stopped at the offset after the last record, so every start after a
 * clean stop found the store one marker ahead of its group and said it resumed from the store's offsets.
 */
export class SinkPositions {
  /** Per `topic:partition`, the offset the store is known to hold reads to. */
  private readonly recorded = new Map<string, number>();
  private lastAt = 0;
  private broken = false;
  private inFlight: Promise<void> | undefined;

  constructor(
    private readonly store: SqlResultStore, private readonly groupId: string, private readonly topics: readonly string[],
    private readonly consumer: ConsumerPositions, private readonly everyMs = POSITIONS_EVERY_MS,
  ) {}

  /** The store's offsets when the sink started (sink-resume.ts). */
  started(stored: ReadonlyMap<string, ReadonlyMap<number, number>>): void {
    for (const [topic, partitions] of stored) for (const [p, next] of partitions) this.wrote(topic, p, next);
  }

  /** A write's offsets are in the store. */
  wrote(topic: string, partition: number, next: number): void {
    const key = `${topic}:${partition}`;
    this.recorded.set(key, Math.max(this.recorded.get(key) ?? next, next));
  }

  /** A batch was not written: from now on a position may pass records the store lacks. */
  unwritten(): void {
    this.broken = true;
  }

  /** Records the positions past what the store holds: at most every `everyMs`, or now with `force` (a clean stop). */
  record(force = false): Promise<void> {
    if (this.inFlight) return force ? this.inFlight.then(() => this.record(true)) : this.inFlight;
    if (this.broken || (!force && Date.now() - this.lastAt < this.everyMs)) return Promise.resolve();
    this.lastAt = Date.now();
    const moves: { topic: string; partition: number; from: number; to: number }[] = [];
    for (const topic of this.topics) {
      for (const partition of this.consumer.owned(topic)) {
        const from = this.recorded.get(`${topic}:${partition}`), to = this.consumer.next(topic, partition);
        if (from !== undefined && to !== undefined && to > from) moves.push({ topic, partition, from, to });
      }
    }
    if (moves.length === 0) return Promise.resolve();
    this.inFlight = (async () => {
      for (const move of moves) {
        await this.store.advanceSinkOffset(this.groupId, move);
        this.wrote(move.topic, move.partition, move.to);
        // The store is the truth at the next start; a commit refused (a rebalance) only leaves the group behind it.
        await this.consumer.commit?.(move.topic, move.partition, move.to).catch(() => undefined);
      }
    })().finally(() => { this.inFlight = undefined; });
    return this.inFlight;
  }
}
