import type { ConsumedOffsets, GroupGeneration } from './kafka/client.ts';
import type { WorkerPartitions } from './worker-partitions.ts';

/**
 * The consumer offsets a stream worker's step commits in its transaction: the next offsets of the
 * batches processed since the last commit, under the generation they were read with; or, for a step that
 * read nothing (assignment, idle tick, drain), the ownership offset under the generation of the
 * assignment (KIP-447: the broker checks the generation only on an offset commit).
 */
export class WorkerOffsets {
  /** Per partition, the next offset after the batches processed since the last commit, and the generation they were read under. */
  private readonly consumed = new Map<number, number>();
  private consumedUnder: GroupGeneration | undefined;
  /** The group membership of the assignment in use: steps that read nothing commit their offsets under it (KIP-447). */
  private generation: GroupGeneration | undefined;

  constructor(private readonly topic: string, private readonly partitions: WorkerPartitions) {}

  /** A new assignment, under `generation`. */
  assigned(generation: GroupGeneration): void {
    this.generation = generation;
  }

  /** An assignment is held (none after a refused commit, until the next one). */
  get member(): boolean {
    return this.generation !== undefined;
  }

  /** A batch processed up to `next` of `partition`, read under `generation`. */
  read(partition: number, next: number, generation: GroupGeneration): void {
    this.consumed.set(partition, next);
    this.consumedUnder = generation;
  }

  /** Batches were processed since the last commit. */
  get pending(): boolean {
    return this.consumed.size > 0;
  }

  /** The partitions of the batches processed since the last commit. */
  pendingPartitions(): number[] {
    return [...this.consumed.keys()];
  }

  /** Forgets the batches processed since the last commit (their partitions' state is dropped). */
  dropPending(): void {
    this.consumed.clear();
  }

  /** After a refused commit: nothing pending, and no assignment until the next one. */
  clear(): void {
    this.consumed.clear();
    this.generation = undefined;
  }

  /** The offsets of a step: those consumed since the last commit (then none pending), else the ownership offset. */
  take(): ConsumedOffsets | null {
    const consumed = this.consumedOffsets();
    this.consumed.clear();
    return consumed ?? this.ownership();
  }

  /** The offsets of the batches processed since the last commit, under the generation they were read with. */
  private consumedOffsets(): ConsumedOffsets | null {
    if (this.consumed.size === 0 || !this.consumedUnder) return null;
    return { generation: this.consumedUnder, topic: this.topic, partitions: [...this.consumed].map(([partition, offset]) => ({ partition, offset })) };
  }

  /**
   * The offsets of a transaction that read nothing (assignment, idle tick, drain): the current position
   * of one owned partition again, under the generation of the assignment. The broker checks the
   * generation only on an offset commit, so without one a stalled worker whose partitions went to
   * another member could still commit its results and checkpoints.
   */
  ownership(): ConsumedOffsets | null {
    const first = this.partitions.first();
    if (!first || !this.generation) return null;
    return { generation: this.generation, topic: this.topic, partitions: [{ partition: first[0], offset: first[1].next }] };
  }
}
