import { BatchConsumer, type GroupFencedError, type GroupGeneration, type InBatch, type KafkaSettings } from './kafka/client.ts';
import type { MemberLoop } from './member-loop.ts';
import { envNumber } from '../pipeline/env-number.ts';

/** What a group member (stream worker, merge stage) does with its consumer's callbacks. */
export interface MemberHandlers {
  groupId: string;
  topic: string;
  /** Static membership (KIP-345): a restarted member gets its partitions back without waiting for a rebalance. */
  instanceId: string;
  /**
   * A new assignment (this topic's partitions), before any batch that follows it. Unless `continued`
   * (see ConsumeOptions.onAssignment), state kept from an earlier assignment is stale: restore it.
   */
  assigned: (partitions: number[], generation: GroupGeneration, continued: boolean) => Promise<void>;
  /** One fetched batch, inside the member's loop; true when processed. */
  batch: (batch: InBatch) => Promise<boolean>;
  /** Also batches without records that moved past transaction markers (ConsumeOptions.markerBatches). */
  markerBatches?: boolean;
  /** Records longer than this are delivered as a problem (ConsumeOptions.maxRecordBytes; default: the input line limit). */
  maxRecordBytes?: number;
  /** A partition's records of a round in batches of at most this many, a turn of the event loop between them (ConsumeOptions.maxBatchRecords). */
  maxBatchRecords?: number;
}

/** A member refused as still known waits this long for its next assignment before it rejoins afresh (env CONCORD_KAFKA_REASSIGN_WAIT_MS). */
function reassignWaitMs(): number {
  return envNumber('CONCORD_KAFKA_REASSIGN_WAIT_MS', 15_000, { unit: 'milliseconds' });
}

/**
 * The consumer of a group member, wired to its MemberLoop. After the broker refused a commit (KIP-447:
 * the group moved on while this member read) the member drops its state and restores from the
 * checkpoints on its next assignment, at the group's committed offsets (the fetch positions are reset
 * at every join: kafka/fetch-positions.ts); batches of the ended membership are ignored when they come
 * up in the loop. The consumer itself is kept while the group still holds the member (`afterRefusal`)
 * and replaced by a fresh one when the broker dropped it or it stalls; callbacks of a replaced consumer
 * are ignored, checked when they run in the loop (not when they arrive).
 */
export class MemberConsumer {
  private current: BatchConsumer | undefined;
  private generation = 0;
  private stopped = false;
  /** Assignments delivered so far (the wait after a refusal checks that one came). */
  private assignments = 0;
  private reassignTimer: NodeJS.Timeout | undefined;
  /** Read once at start: a bad CONCORD_KAFKA_REASSIGN_WAIT_MS is said before the worker runs. */
  private readonly reassignWaitMs = reassignWaitMs();
  /** Partitions the member wants left out of fetches (watermark alignment), also for a replacement consumer. */
  private paused: readonly number[] = [];
  /** Partitions the member holds but does not read (a bounded worker's, drained: GroupDrain), also left out. */
  private held: readonly number[] = [];

  constructor(
    private readonly settings: KafkaSettings,
    private readonly loop: MemberLoop,
    private readonly member: MemberHandlers,
  ) {}

  async start(): Promise<void> {
    if (this.stopped) return;
    const generation = ++this.generation;
    const isCurrent = () => generation === this.generation;
    const m = this.member;
    const consumer = await BatchConsumer.start(this.settings, {
      groupId: m.groupId,
      topics: [m.topic],
      instanceId: m.instanceId,
      onAssignment: (assigned, g, continued) => {
        this.assignments++;
        const mine = assigned.filter((a) => a.topic === m.topic).map((a) => a.partition);
        this.loop.assigned(async () => { if (isCurrent()) await m.assigned(mine, g, continued); });
      },
      // Offsets commit only inside the member's transactions, together with its outputs and checkpoints.
      commit: 'none',
      ...(m.markerBatches ? { markerBatches: true } : {}),
      ...(m.maxRecordBytes !== undefined ? { maxRecordBytes: m.maxRecordBytes } : {}),
      ...(m.maxBatchRecords !== undefined ? { maxBatchRecords: m.maxBatchRecords } : {}),
      // A batch formed before a join (queued behind the step the join interrupted) is of a membership
      // that ended: the assignment that follows restores its partitions and they are read again.
      onBatch: (batch) => this.loop.batch(async () => isCurrent() && this.ofCurrentMembership(batch) && m.batch(batch)),
      // After the step in flight (a refused commit is reported first), the run ends with the failure.
      onError: (error) => void this.loop.exclusive(() => (isCurrent() ? Promise.reject(error) : Promise.resolve())).catch((e: unknown) => this.loop.fail(e)),
    });
    // Stopped or replaced while joining: this one is not needed any more.
    if (!isCurrent()) await consumer.stop().catch(() => undefined);
    else {
      this.current = consumer;
      consumer.pause(m.topic, [...this.paused, ...this.held]);
    }
  }

  /** Fetches leave `partitions` out from now on (and the others in, unless held): watermark alignment. */
  pause(partitions: Iterable<number>): void {
    this.paused = [...partitions];
    this.current?.pause(this.member.topic, [...this.paused, ...this.held]);
  }

  /** Fetches leave `partitions` out from now on, besides those alignment pauses: held, not read. */
  hold(partitions: Iterable<number>): void {
    this.held = [...partitions];
    this.current?.pause(this.member.topic, [...this.paused, ...this.held]);
  }

  /** The end of a partition as the latest fetch response said (undefined: none seen by the consumer in use). */
  end(partition: number): number | undefined {
    return this.current?.end(this.member.topic, partition);
  }

  /**
   * The broker refused this member's commit (the caller dropped its state). A member the group still
   * holds is in a rebalance its consumer finishes by itself, and the assignment that follows restores
   * the state: replacing the consumer would leave and join again, a second rebalance that refuses the
   * other members' commits in turn (measured: two workers refused each other 34 times over 3M records,
   * each refusal one more rebalance). It rejoins afresh only if no assignment comes within a while. A
   * member the broker dropped (a stall past the session timeout) gets a fresh consumer at once.
   */
  afterRefusal(error: GroupFencedError): void {
    if (!error.memberKnown) {
      this.replaceAfterStep();
      return;
    }
    // Joined a newer generation already: its assignment is delivered (queued behind this step).
    const now = this.current?.currentGeneration();
    if (now && error.generationId !== undefined && now.generationId > error.generationId) return;
    const seen = this.assignments, generation = this.generation;
    clearTimeout(this.reassignTimer);
    this.reassignTimer = setTimeout(() => {
      if (this.assignments === seen && this.generation === generation && !this.stopped) this.replaceAfterStep();
    }, this.reassignWaitMs);
    this.reassignTimer.unref();
  }

  private ofCurrentMembership(batch: InBatch): boolean {
    const now = this.current?.currentGeneration();
    return now !== undefined && now.generationId === batch.generation.generationId && now.memberId === batch.generation.memberId;
  }

  /** After the step in flight: stops the consumer in use and joins with a fresh one (a failure fails the loop). */
  replaceAfterStep(): void {
    void this.loop.exclusive(() => this.replace()).catch((error: unknown) => this.loop.fail(error));
  }

  private async replace(): Promise<void> {
    const old = this.current;
    this.current = undefined;
    this.generation++;
    await old?.stop().catch(() => undefined);
    await this.start();
  }

  /** For good: a replacement still pending starts nothing. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reassignTimer);
    this.generation++;
    await this.current?.stop().catch(() => undefined);
  }
}
