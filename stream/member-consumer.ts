import { BatchConsumer, type ConsumeOptions, type KafkaSettings } from './kafka/client.ts';

/**
 * The consumer of a group member (stream worker, merge stage) that is replaced by a fresh one after the
 * broker refused a commit (KIP-447: the group moved on while this member read). The old consumer's
 * positions ran ahead of the committed offsets, and it may still deliver batches of the membership it
 * lost; a fresh one starts at the group's committed offsets, which are exactly the offsets of the
 * checkpoints the member restores on its next assignment (they commit in one transaction). Keeping the
 * old consumer left both: a batch of a partition the member had dropped ("not assigned to this worker"),
 * and, for a partition never committed, a position past records nobody processed.
 */
export class MemberConsumer {
  private current: BatchConsumer | undefined;
  private generation = 0;
  private stopped = false;

  /** `options(isCurrent)`: the consumer's options; `isCurrent()` is false once that consumer was replaced. */
  constructor(
    private readonly settings: KafkaSettings,
    private readonly options: (isCurrent: () => boolean) => ConsumeOptions,
  ) {}

  async start(): Promise<void> {
    if (this.stopped) return;
    const generation = ++this.generation;
    const consumer = await BatchConsumer.start(this.settings, this.options(() => generation === this.generation));
    // Stopped or replaced while joining: this one is not needed any more.
    if (generation !== this.generation) await consumer.stop().catch(() => undefined);
    else this.current = consumer;
  }

  /** Stops the consumer in use (its callbacks are ignored from now on) and joins with a fresh one. */
  async replace(): Promise<void> {
    const old = this.current;
    this.current = undefined;
    this.generation++;
    await old?.stop().catch(() => undefined);
    await this.start();
  }

  /** For good: a replacement still pending starts nothing. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.generation++;
    await this.current?.stop().catch(() => undefined);
  }
}
