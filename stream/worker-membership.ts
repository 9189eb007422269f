import { readLatestByKey, type CaughtUpWatch, type GroupFencedError, type KafkaSettings } from './kafka/client.ts';
import type { GroupDrain } from './group-drain.ts';
import type { MemberConsumer } from './member-consumer.ts';
import type { MemberLoop } from './member-loop.ts';
import type { WorkerOffsets } from './worker-offsets.ts';
import type { WorkerOutputs } from './worker-outputs.ts';
import type { WorkerPartitions } from './worker-partitions.ts';
import type { WorkerSteps } from './worker-steps.ts';
import type { WorkerTransactions } from './worker-transactions.ts';
import type { ProcessMetrics } from '../serve/process-metrics.ts';

export interface WorkerMembershipOptions {
  settings: KafkaSettings;
  /** The input topic. */
  topic: string;
  /** The checkpoints topic, read at each assignment of new partitions. */
  checkpoints: string;
  /** The pipelines' names, for the metrics of a partition handed away. */
  pipelineNames: readonly string[];
  loop: MemberLoop;
  partitions: WorkerPartitions;
  offsets: WorkerOffsets;
  outputs: WorkerOutputs;
  /** Caught up and quiet, from the batches processed (see the worker's watch). */
  watch: CaughtUpWatch;
  transactions: WorkerTransactions;
  consumer: MemberConsumer;
  steps: WorkerSteps;
  /** With `stopWhenIdleMs`: the group's end of the run. */
  groupDrain: GroupDrain | undefined;
  /** The worker's count of refused transactions. */
  counts: { fenced: number };
  metrics?: ProcessMetrics;
  log: (line: string) => void;
}

/**
 * A stream worker's place in its group: which input partitions it owns and what it does when that
 * changes. An assignment restores the new partitions from their checkpoints and forgets those handed
 * away; a refused transaction or a stalled consumer drops everything (the next assignment restores it);
 * a bounded worker that drained holds its partitions, unread, until the group drained every one.
 */
export class WorkerMembership {
  /** Assigned here, drained by the group with all their input read: held, neither restored nor read. */
  private readonly done = new Set<number>();
  /** The group's latest assignment gave this worker no partition (more members than partitions). */
  private unassigned = false;

  constructor(private readonly o: WorkerMembershipOptions) {}

  /** The partition is held drained: its batches are not read. */
  holds(p: number): boolean {
    return this.done.has(p);
  }

  /** A bounded worker that holds only partitions its group drained, or none and is idle: it waits for the group's end. */
  waiting(): boolean {
    return this.done.size > 0 || (this.unassigned && this.o.watch.quiet());
  }

  /**
   * The broker refused this worker's transaction: the group gave its partitions to another member while
   * it stalled, or a rebalance moved the generation on. What it built since the last committed checkpoint
   * is dropped (MemberConsumer.afterRefusal decides whether the consumer is replaced); the next assignment
   * restores whatever it owns then from the checkpoints (another member's, if it moved on).
   */
  fenced(error: GroupFencedError): void {
    this.o.log(`transaction refused and aborted: ${error.message}; dropping partitions [${[...this.o.partitions.keys()].join(', ')}] until the group assigns again`);
    this.o.counts.fenced++;
    this.dropAll();
    this.o.consumer.afterRefusal(error);
  }

  /**
   * Drops every partition's state (all of it is in the checkpoints, or in a transaction that was refused)
   * and, after the step in flight, replaces the consumer (MemberConsumer): the next assignment restores
   * from the checkpoints at the committed offsets. The old consumer's batches queued meanwhile are ignored.
   */
  rejoin(): void {
    this.dropAll();
    this.o.consumer.replaceAfterStep();
  }

  /**
   * A bounded worker drained what it holds (or holds only drained partitions, or none: the group gave it
   * none and it is idle): it keeps them, unread and without state (the drained state is never
   * checkpointed), and stops once the group drained every partition (GroupDrain); until then a killed
   * member's partitions may still be handed here.
   */
  async drained(): Promise<void> {
    for (const p of [...this.o.partitions.keys()]) {
      this.done.add(p);
      this.forget(p);
    }
    this.o.consumer.hold(this.done);
    if (await this.o.groupDrain!.finished(this.done.size > 0)) this.o.loop.stop();
  }

  /**
   * A new assignment: drop partitions handed away (all of them unless the membership `continued`: another
   * member may have moved them on meanwhile), restore the new ones from their checkpoints.
   */
  async assign(assigned: number[], continued: boolean): Promise<void> {
    const { loop, transactions, offsets, outputs, partitions, groupDrain, consumer, watch, topic } = this.o;
    // Stopping (a bounded run's end, a signal): it leaves the group; whoever gets them next restores them.
    if (loop.stopping) return;
    // A refusal of the transaction in flight drops every partition: all of them are restored below, and
    // from here on this member commits again (until an assignment, every step after a refusal is void).
    await transactions.settled();
    transactions.resume();
    const keep = new Set(continued ? assigned : []);
    if (offsets.pending) {
      // The group rebalanced between the batches of one fetch: what they produced is dropped with their
      // partitions' state (everything pending comes from them), restored below from the checkpoints and
      // read again.
      for (const p of offsets.pendingPartitions()) keep.delete(p);
      offsets.dropPending();
      outputs.clear();
    }
    for (const p of [...partitions.keys()]) if (!keep.has(p)) this.forget(p);
    let fresh = assigned.filter((p) => !partitions.has(p));
    const drainedHere = [...this.done];
    const waited = drainedHere.length > 0 || this.unassigned;
    this.done.clear();
    this.unassigned = assigned.length === 0;
    groupDrain?.assigned();
    if (groupDrain && this.unassigned) {
      // Idle from now: its siblings, given their partitions by the same rebalance, drain within their quiet time.
      watch.heard();
      this.o.log(`assigned no partition of ${topic} (the group has more members than partitions): once idle, waiting for the group's drain`);
    }
    if (groupDrain && waited && fresh.length > 0) {
      const { drained, open } = await groupDrain.drained();
      if (open.length === 0) {
        // Waiting for the group's end, and the members that drained the rest left, handing their
        // partitions here: the run is over, as it would be at this worker's next tick.
        for (const p of assigned) this.done.add(p);
        consumer.hold(this.done);
        groupDrain.ended();
        loop.stop();
        return;
      }
      // Partitions this worker drained itself, no input since, are held (their drained state is not
      // checkpointed: restored, they would fire their windows again). Any other, even one an earlier
      // run drained, is restored and drained in this run: the merge stage waits for its drain.
      for (const p of fresh) if (drainedHere.includes(p) && drained.has(p)) this.done.add(p);
      fresh = fresh.filter((p) => !this.done.has(p));
      if (this.done.size > 0) this.o.log(`partitions [${[...this.done].join(', ')}] of ${topic} were drained here with all their input read: held, not read again`);
    }
    consumer.hold(this.done);
    if (fresh.length === 0) return;
    const restoreStarted = performance.now();
    const read = { bytes: 0 };
    const stored = await readLatestByKey(this.o.settings, this.o.checkpoints, read);
    const restoredCount = partitions.restore(fresh, stored, outputs);
    this.o.metrics?.restore((performance.now() - restoreStarted) / 1000, read.bytes);
    for (const p of fresh) watch.position(topic, p, partitions.get(p)!.next);
    this.o.log(`assigned ${topic} partitions [${assigned.join(', ')}]; restored ${restoredCount} from checkpoints`);
    // Pending decisions of restored state happen before any new event is judged.
    await this.o.steps.step();
  }

  /** Forgets every partition's state and whatever was pending for them (all of it is in the checkpoints, or refused). */
  private dropAll(): void {
    for (const p of [...this.o.partitions.keys()]) this.forget(p);
    this.done.clear();
    this.o.offsets.clear();
    this.o.outputs.clear();
  }

  /** A partition handed away or dropped: its state and its position. */
  private forget(p: number): void {
    this.o.partitions.forget(p);
    this.o.watch.forget(this.o.topic, p);
    this.o.metrics?.partitionGone(this.o.topic, this.o.pipelineNames, p);
  }
}
