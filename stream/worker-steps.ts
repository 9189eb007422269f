import type { PipelineDefinition } from '../pipeline/definition.ts';
import type { ProcessMetrics } from '../serve/process-metrics.ts';
import type { CaughtUpWatch } from './kafka/client.ts';
import { checkpointBytes } from './merge-checkpoints.ts';
import type { MemberConsumer } from './member-consumer.ts';
import type { WorkerOffsets } from './worker-offsets.ts';
import type { WorkerOutputs } from './worker-outputs.ts';
import type { WorkerPartitions } from './worker-partitions.ts';
import type { Committed, WorkerTransactions } from './worker-transactions.ts';
import { addCommitted, meterCommitted, type CommittedCounts } from './step-counts.ts';

/** The counters the steps move (the worker's stats): a committed transaction adds what its work counted. */
export interface WorkerStepCounts extends CommittedCounts {
  transactions: number;
  commitSeconds: number;
  checkpointBytes: number;
  alignmentPauses: number;
  maxWatermarkSpreadMs: number;
}

export interface WorkerStepsOptions {
  pipelines: readonly PipelineDefinition[];
  /** The input topic. */
  topic: string;
  partitions: WorkerPartitions;
  outputs: WorkerOutputs;
  offsets: WorkerOffsets;
  transactions: WorkerTransactions;
  consumer: MemberConsumer;
  /** Where each owned partition is processed to (alignment waits only for partitions with records left). */
  watch: CaughtUpWatch;
  counts: WorkerStepCounts;
  /** Watermark alignment's drift (stream/watermark-alignment.ts); undefined: no alignment. */
  maxWatermarkDriftMs?: number;
  metrics?: ProcessMetrics;
  log: (line: string) => void;
}

/**
 * What a stream worker's steps commit, each in one transaction (WorkerTransactions): the firing W over
 * the owned partitions, the outputs it fired and those of the batches processed (WorkerOutputs), the
 * checkpoints of the partitions that changed, and the offsets (WorkerOffsets); watermark alignment after
 * each step; the drain at the end of a bounded run; and what a committed transaction counts.
 */
export class WorkerSteps {
  constructor(private readonly o: WorkerStepsOptions) {}

  /**
   * End of a step: every partition operator sees the firing W (the minimum over the non-idle
   * partitions: windows of other partitions fire too; it never decides lateness), partial aggregates
   * are merged, and everything commits in one transaction with the checkpoints of the partitions that
   * changed (and the consumed offset, when the step consumed records).
   */
  async step(o: { overlap?: boolean } = {}): Promise<void> {
    const { partitions, outputs, counts, metrics } = this.o;
    const started = performance.now();
    partitions.fire();
    this.align();
    partitions.reportProgress(outputs);
    partitions.reportWatermarks(outputs);
    const { records, ...work } = outputs.take();
    const cpStarted = performance.now();
    const checkpoints = partitions.checkpointRecords();
    const bytes = checkpointBytes(checkpoints);
    counts.checkpointBytes += bytes;
    metrics?.checkpoint(bytes, (performance.now() - cpStarted) / 1000);
    records.push(...checkpoints);
    // After the transaction in flight (void if that one is refused: this state is dropped with it).
    const committing = this.o.transactions.begin(records, this.o.offsets.take(), started, work);
    if (!o.overlap) await committing;
  }

  /**
   * Watermark alignment after the step's events: partitions too far ahead of the slowest one still
   * reading are left out of the next fetches (a partition read to the end the broker last reported holds
   * nothing back). The spread is measured with or without alignment.
   */
  private align(): void {
    const { consumer, partitions, watch, topic, counts } = this.o;
    const drift = this.o.maxWatermarkDriftMs;
    const unread = (p: number) => {
      const end = consumer.end(p);
      return end === undefined || (watch.next(topic, p) ?? partitions.get(p)?.next ?? 0) < end;
    };
    const { paused, newlyPaused, spread } = partitions.align(drift, unread);
    if (spread > counts.maxWatermarkSpreadMs) counts.maxWatermarkSpreadMs = spread;
    this.o.metrics?.alignment(paused.length, spread);
    if (drift === undefined) return;
    counts.alignmentPauses += newlyPaused;
    consumer.pause(paused);
  }

  /** End of a bounded run: W = +infinity, every open window fires once, results commit (false: refused). */
  async drain(): Promise<boolean> {
    const { partitions, outputs, transactions } = this.o;
    // Batches processed but not committed yet go first, with their checkpoints: the drain writes none,
    // so its offsets must not run ahead of them.
    if (this.o.offsets.pending) await this.step();
    if (!(await transactions.settled())) return false;
    const started = performance.now();
    // The store's watermark stops at the last real W (before +infinity), in the drain's transaction.
    partitions.reportDrained(outputs, (p) => Math.max(this.o.watch.next(this.o.topic, p) ?? 0, partitions.get(p)?.next ?? 0));
    partitions.finish();
    partitions.reportProgress(outputs);
    // The drained state is not checkpointed: a later run continues the stream from the last checkpoint.
    const { records, ...work } = outputs.take();
    if (!(await transactions.begin(records, this.o.offsets.ownership(), started, work))) return false;
    this.o.log(`drained: every open window fired (W = +infinity)`);
    return true;
  }

  /**
   * A transaction committed: what its work counted (into the totals and the counters of the metrics: a
   * refused one's work is read again and counted by whoever commits it), its cost, the emit delay of its
   * window results, and the watermarks (with metrics).
   */
  committed(c: Committed): void {
    const { counts, metrics, partitions } = this.o;
    counts.transactions++;
    counts.commitSeconds += c.seconds;
    addCommitted(counts, c.counts);
    if (!metrics) return;
    meterCommitted(metrics, this.o.pipelines[0]!.schema.name, this.o.pipelines.map((p) => p.name), c.counts);
    metrics.transactionCommit(c.seconds);
    for (const pipeline of c.emitted) metrics.windowEmitDelay(pipeline, (c.at - c.started) / 1000);
    this.o.pipelines.forEach((def, i) => {
      metrics.watermark(def.name, 'all', partitions.trackers[i]!.current);
      let entries = 0;
      for (const [p, state] of partitions.entries()) {
        metrics.watermark(def.name, String(p), state.operators[i]!.watermark);
        entries += state.operators[i]!.stateEntries;
      }
      metrics.stateEntries(def.name, entries);
    });
  }
}
