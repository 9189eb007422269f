import { definitionVersion, type PipelineDefinition } from '../pipeline/definition.ts';
import type { CommittedCounts } from './step-counts.ts';
import { ConcordError, DefinitionError } from '../pipeline/errors.ts';
import {
  CaughtUpWatch,
  TransactionalProducer,
  endOffsets,
  ensureTopics,
  topicId,
  topicPartitions,
  type InBatch,
  type KafkaSettings,
} from './kafka/client.ts';
import { GroupDrain } from './group-drain.ts';
import { workerClientId } from './kafka/group-members.ts';
import { concordTopics, groupName, inputTopic, needsMergeStage, partialsTopic, topicNames } from './kafka/topics.ts';
import { PartitionsAddedWatch } from './kafka/partitions-added.ts';
import { adviseCheckpointTopic } from './kafka/checkpoint-topic-settings.ts';
import { MemberLoop } from './member-loop.ts';
import { MemberConsumer } from './member-consumer.ts';
import { WorkerAdmission } from './worker-admission.ts';
import { WorkerMembership } from './worker-membership.ts';
import { WorkerOffsets } from './worker-offsets.ts';
import { WorkerOutputs } from './worker-outputs.ts';
import { WorkerPartitions } from './worker-partitions.ts';
import { WorkerSteps } from './worker-steps.ts';
import { WorkerTick } from './worker-tick.ts';
import { WorkerTransactions } from './worker-transactions.ts';
import type { ProcessMetrics } from '../serve/process-metrics.ts';
import type { UpgradeFrom } from './upgrade-from.ts';

export interface KafkaWorkerOptions {
  /** Pipelines over one input schema (one consumer group per schema and pipeline set). */
  pipelines: readonly PipelineDefinition[];
  settings: KafkaSettings;
  /** Consumer group; default `concord-<schema>`. */
  groupId?: string;
  /** Stable per worker: the transactional id fences a previous incarnation on restart. */
  workerId: string;
  /** A partition that delivers nothing for this long stops holding the watermark (default 30 s). */
  idleTimeoutMs?: number;
  /**
   * Watermark alignment: stop fetching a partition whose own W runs more than this ahead of the slowest
   * partition still reading (stream/watermark-alignment.ts). Undefined: no alignment.
   */
  maxWatermarkDriftMs?: number;
  /** Exit once every assigned partition is caught up and quiet for this long; then drain (W = +inf). */
  stopWhenIdleMs?: number;
  partitions?: number;
  log?: (line: string) => void;
  /** Metrics of the process (serve/process-metrics.ts); none: nothing is measured. */
  metrics?: ProcessMetrics;
  /** Write checkpoints that release reads (a rolling upgrade: stream/upgrade-from.ts). */
  upgradeFrom?: UpgradeFrom;
}

export interface WorkerStats extends CommittedCounts {
  records: number;
  transactions: number;
  /** Transactions the broker refused because the group had moved on (KIP-447 fencing). */
  fenced: number;
  /** Bytes of checkpoint records written (only partitions that changed since their last record). */
  checkpointBytes: number;
  /** Time spent committing transactions (produce, offsets, commit), seconds. */
  commitSeconds: number;
  /** Times watermark alignment paused a partition. */
  alignmentPauses: number;
  /** The largest event-time spread of the owned partitions seen after a step, ms (what alignment bounds). */
  maxWatermarkSpreadMs: number;
}

/**
 * A partition's records of one fetched round are admitted in pieces of at most this many, with a turn of
 * the event loop between them. An event can cost much: one that updates a fired window re-emits the
 * pane (for approx_distinct a 22 KB partial; no longer a 2^14-register scan, session 33). Several
 * thousand such events of one partition held the loop 15-20 s at load 12, past the session timeout: every
 * group of the process was evicted at each first step after a restore (docs/operations.md). The step
 * still commits the round at once.
 */
const BATCH_RECORDS = 500;

/**
 * A streaming worker over Kafka. Per input partition it keeps one operator per pipeline; the
 * watermark of each pipeline is the minimum over the assigned, non-idle partitions (each partition's
 * own W = max ts - B - 1). Every fetch commits, in one Kafka transaction (WorkerOutputs,
 * WorkerTransactions): the results (compacted upserts keyed by pipeline|window|key), late events, dead
 * letters, checkpoints of the partitions that changed (state and own watermark), and the consumer
 * offsets (WorkerSteps, WorkerOffsets); the next fetch is processed while it commits. A killed worker
 * restarts from the last committed transaction: nothing lost, nothing doubled. The worker wires these
 * parts and hands each batch to its partition (WorkerAdmission judges the records); its place in the
 * group (assignments, refusals, drains) is WorkerMembership, its clock WorkerTick.
 */
export class KafkaWorker {
  private readonly o: KafkaWorkerOptions;
  private readonly schema: string;
  private readonly topic: string;
  private readonly groupId: string;
  private readonly names = topicNames();
  /** The owned input partitions: their operators, checkpoints and the firing W over them. */
  private readonly partitions: WorkerPartitions;
  private readonly outputs: WorkerOutputs;
  private readonly admission: WorkerAdmission;
  private transactions!: WorkerTransactions;
  private steps!: WorkerSteps;
  private consumer: MemberConsumer | undefined;
  private readonly loop = new MemberLoop();
  /** The offsets the steps commit: of the batches consumed, or of the assignment's ownership (KIP-447). */
  private readonly offsets: WorkerOffsets;
  /**
   * Caught up and quiet, from the batches processed (transaction markers included: InBatch.next), not the
   * fetch position, which runs ahead of them: `next` may stay one short of the end (a commit marker).
   */
  private readonly watch: CaughtUpWatch;
  /** With `stopWhenIdleMs`: the group's end of the run (every partition drained), not only this worker's. */
  private readonly groupDrain: GroupDrain | undefined;
  /** Which partitions it owns, and what it does when that changes (assignments, refusals, drains). */
  private membership!: WorkerMembership;
  readonly stats: WorkerStats = { records: 0, events: 0, deadLetters: 0, firstRejection: null, rejectionReasons: new Map(), misKeyed: 0, firstMisKeyed: null, late: 0, latePerPipeline: {}, lateWindowSkips: 0, lateAccepted: 0, results: 0, transactions: 0, fenced: 0, checkpointBytes: 0, commitSeconds: 0, alignmentPauses: 0, maxWatermarkSpreadMs: 0 };

  constructor(options: KafkaWorkerOptions) {
    this.o = options;
    const first = options.pipelines[0];
    if (!first) throw new DefinitionError('no pipeline to run');
    const mixed = options.pipelines.find((p) => p.schema.name !== first.schema.name);
    if (mixed) throw new DefinitionError(`one worker reads one input: ${mixed.name} reads ${mixed.schema.name}, not ${first.schema.name}`);
    this.schema = first.schema.name;
    this.topic = inputTopic(this.schema);
    this.groupId = options.groupId ?? groupName(`concord-${this.schema}`);
    // Pipelines whose keys span partitions go through the merge stage: windowed ones emit per-partition
    // partials, never totals; rules forward the events each partition accepted (RuleForwarder).
    const merged = options.pipelines.map((p) => needsMergeStage(p));
    this.partitions = new WorkerPartitions({
      pipelines: options.pipelines, merged, groupId: this.groupId, topic: this.topic, names: this.names, ...(options.upgradeFrom ? { upgradeFrom: options.upgradeFrom } : {}),
    });
    this.offsets = new WorkerOffsets(this.topic, this.partitions);
    this.watch = new CaughtUpWatch(options.settings, options.stopWhenIdleMs);
    if (options.stopWhenIdleMs !== undefined) {
      const pipelines = options.pipelines.map((p) => ({ name: p.name, version: definitionVersion(p) }));
      this.groupDrain = new GroupDrain({ settings: options.settings, watermarks: this.names.watermarks, groupId: this.groupId, topic: this.topic, pipelines, workerId: options.workerId, log: (line) => this.log(line) });
    }
    this.outputs = new WorkerOutputs(this.names.partials(this.schema, this.groupId), this.schema, options.pipelines, merged, this.names, (p, i) => this.partitions.get(p)?.operators[i], options.metrics, (p) => this.partitions.get(p)?.counts);
    this.admission = new WorkerAdmission(options.pipelines, this.partitions, this.outputs, this.stats);
    options.metrics?.declare({ pipelines: options.pipelines.map((p) => p.name), inputs: [this.schema] });
  }

  private log(line: string): void {
    this.o.log?.(line);
  }

  /** Joins the group and processes until stopped (or until idle with `stopWhenIdleMs`). */
  async run(): Promise<WorkerStats> {
    const merging = this.o.pipelines.some((p) => needsMergeStage(p)) ? [partialsTopic(this.schema, this.groupId, this.o.partitions)] : [];
    await ensureTopics(this.o.settings, [...concordTopics([this.o.pipelines[0]!.schema], this.o.partitions), ...merging]);
    await adviseCheckpointTopic(this.o.settings, this.names.checkpoints, (line) => this.log(line));
    this.partitions.topicId = await topicId(this.o.settings, this.topic);
    this.partitions.topicPartitions = await topicPartitions(this.o.settings, this.topic);
    const producer = await TransactionalProducer.connect(this.o.settings, `concord-${this.groupId}-${this.o.workerId}`);
    this.transactions = new WorkerTransactions(producer, {
      refused: (error) => this.membership.fenced(error),
      failed: (error) => this.loop.fail(error),
      committed: (c) => this.steps.committed(c),
    });
    // The client id says whether this member is bounded: a bounded sibling waiting for the group's drain
    // waits for a bounded member's partitions (it drains them or dies), never only a session timeout.
    const bounded = this.o.stopWhenIdleMs !== undefined;
    this.consumer = new MemberConsumer({ ...this.o.settings, clientId: workerClientId(this.o.workerId, bounded) }, this.loop, {
      groupId: this.groupId,
      topic: this.topic,
      instanceId: `concord-${this.groupId}-${this.o.workerId}`,
      assigned: (partitions, generation, continued) => {
        this.offsets.assigned(generation);
        return this.membership.assign(partitions, continued);
      },
      batch: (batch) => this.process(batch),
      markerBatches: true,
      maxBatchRecords: BATCH_RECORDS,
    });
    const o = this.o;
    this.steps = new WorkerSteps({
      pipelines: o.pipelines, topic: this.topic, partitions: this.partitions, outputs: this.outputs, offsets: this.offsets, transactions: this.transactions,
      consumer: this.consumer, watch: this.watch, counts: this.stats, maxWatermarkDriftMs: o.maxWatermarkDriftMs, metrics: o.metrics, log: (line) => this.log(line),
    });
    this.membership = new WorkerMembership({
      settings: o.settings, topic: this.topic, checkpoints: this.names.checkpoints, pipelineNames: o.pipelines.map((p) => p.name), loop: this.loop,
      partitions: this.partitions, offsets: this.offsets, outputs: this.outputs, watch: this.watch, transactions: this.transactions,
      consumer: this.consumer, steps: this.steps, groupDrain: this.groupDrain, counts: this.stats, metrics: o.metrics, log: (line) => this.log(line),
    });
    const tick = new WorkerTick({
      topic: this.topic, loop: this.loop, transactions: this.transactions, partitions: this.partitions, steps: this.steps, watch: this.watch,
      idleTimeoutMs: o.idleTimeoutMs, rejoin: () => this.membership.rejoin(), log: (line) => this.log(line),
      added: new PartitionsAddedWatch(o.settings, this.topic, this.partitions.topicPartitions), groupId: this.groupId,
      drained: () => this.membership.drained(),
      // A worker given no partition is done with its share once idle: it waits for the group's end too.
      waiting: () => this.membership.waiting(),
    });
    await this.consumer.start();
    const metrics = this.o.metrics;
    let running = true;
    metrics?.beforeScrape(async () => {
      if (!running) return;
      const ends = await endOffsets(this.o.settings, this.topic);
      // The watch's position: fed at restore and after every batch, markers included, never behind `next`.
      for (const [p, state] of this.partitions.entries()) metrics.consumerLag(this.topic, p, Math.max(0, (ends.get(p) ?? 0) - (this.watch.next(this.topic, p) ?? state.next)));
    });
    tick.start();
    try {
      await this.loop.wait();
    } finally {
      running = false;
      tick.stop();
      // The step in flight and its transaction end while this member is still in the group: a commit
      // after leaving it is refused (UNKNOWN_MEMBER_ID) and the restart reads those records again.
      await this.loop.settled();
      // A stop between the pieces of a round (BATCH_RECORDS) leaves the pieces admitted before it
      // uncommitted (the round's last piece, which steps, never came): one more step commits them, else
      // the restart read them again. Not after a failure: that state is dropped, the restart restores.
      if (!this.loop.failed && this.offsets.member && this.offsets.pending) await this.loop.exclusive(() => this.steps.step());
      await this.transactions.settled().catch(() => undefined);
      await this.consumer?.stop();
      await this.transactions.close();
      await this.groupDrain?.close();
    }
    return this.stats;
  }

  /** Stops after the current step, without draining (the next run continues from the checkpoint). */
  stop(): void {
    this.loop.stop();
  }

  private async process(batch: InBatch): Promise<boolean> {
    // Dropped after a refused commit: nothing is held until the next assignment restores (and reads again).
    if (this.loop.stopping || !this.offsets.member || this.membership.holds(batch.partition)) return false;
    const state = this.partitions.get(batch.partition);
    if (!state || batch.topic !== this.topic) {
      throw new ConcordError(`received ${batch.topic}:${batch.partition}, which is not assigned to this worker`);
    }
    const admitted = this.admission.admit(batch, state);
    const last = batch.records.at(-1);
    this.watch.position(this.topic, batch.partition, Math.max(batch.next ?? 0, last ? last.offset + 1 : 0));
    if (last) {
      state.next = Math.max(state.next, last.offset + 1);
      state.lastDataAt = Date.now();
      this.watch.heard(state.lastDataAt);
      state.dirty = true;
    }
    if (admitted > 0) this.partitions.advance(batch.partition);
    if (last) this.offsets.read(batch.partition, state.next, batch.generation);
    // The other partitions' batches of the same fetch follow at once: one transaction for all of them,
    // committed while the next fetch is processed.
    if (!batch.more && this.offsets.pending) await this.steps.step({ overlap: true });
    return true;
  }
}
